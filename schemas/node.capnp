@0xa1b5bdedc0e91fa4;
# quicproquo wire protocol: the single source of truth for every message exchanged between a client
# and the gateway. Each message travels as one frame (see docs/protocol.md): a 4-byte little-endian
# length, then a standard Cap'n Proto message (segment table + segments), unpacked.
#
# shared/src/protocol/generated/codec.ts (types, layout, encoders and decoders) is generated from this
# file by scripts/gen-codec.mjs; `npm run gen:schema` rewrites it and CI fails when it is stale.
#
# Compatibility rules from protocol version 2 on: never renumber or retype a field; add new fields and
# union members at the end with the next ordinal; bump PROTOCOL_VERSION in
# shared/src/protocol/version.ts only for changes an old peer cannot ignore. Every delivery goes
# through a channel: a conversation of two people is a group channel with two members.

# ---------------------------------------------------------------------------------------------------
# Client -> gateway

struct ClientFrame {
  requestId @0 :UInt32;
  # Echoed back in the matching Response so a client can have many requests in flight on one stream.

  request :union {
    # Each member names an operation; the Response carries a result member of the same name.
    hello @1 :HelloRequest;
    health @2 :Void;
    registerStart @3 :RegisterStartRequest;
    registerFinish @4 :RegisterFinishRequest;
    loginStart @5 :LoginStartRequest;
    loginFinish @6 :LoginFinishRequest;
    resumeSession @7 :ResumeSessionRequest;
    logout @8 :Void;
    publishKeyPackages @9 :PublishKeyPackagesRequest;
    fetchKeyPackage @10 :FetchKeyPackageRequest;
    resolveUser @11 :ResolveUserRequest;
    publishHybridKey @12 :PublishHybridKeyRequest;
    fetchHybridKey @13 :FetchHybridKeyRequest;
    createChannel @14 :CreateChannelRequest;
    enqueue @15 :EnqueueRequest;
    sealedEnqueue @16 :SealedEnqueueRequest;
    fetch @17 :FetchRequest;
    ack @18 :AckRequest;
    subscribe @19 :SubscribeRequest;
    attachDevice @20 :AttachDeviceRequest;
    listDevices @21 :ListDevicesRequest;
    renameDevice @22 :RenameDeviceRequest;
    revokeDevice @23 :RevokeDeviceRequest;
    putAccountBundle @24 :PutAccountBundleRequest;
    getAccountBundle @25 :Void;
    putBackup @26 :PutBackupRequest;
    fetchBackup @27 :FetchBackupRequest;
    fetchKeyPackages @28 :FetchKeyPackagesRequest;
  }
}

struct HelloRequest {
  minVersion @0 :UInt16;
  # The client speaks every version in [minVersion, maxVersion].
  maxVersion @1 :UInt16;
  client @2 :Text;
}

struct RegisterStartRequest {
  username @0 :Text;
  registrationRequest @1 :Data;
  # OPAQUE RegistrationRequest (serenity-kit base64url string, sent as bytes).
}

struct RegisterFinishRequest {
  username @0 :Text;
  registrationRecord @1 :Data;
  # OPAQUE RegistrationRecord: what the gateway stores instead of a password.
  identityKey @2 :Data;
  # Ed25519 public key of the user's MLS BasicCredential, bound to the username at registration.
}

struct LoginStartRequest {
  username @0 :Text;
  startLoginRequest @1 :Data;
}

struct LoginFinishRequest {
  loginId @0 :Data;
  # Opaque handle from LoginStartResponse: the gateway keeps the OPAQUE server state meanwhile.
  finishLoginRequest @1 :Data;
}

struct ResumeSessionRequest {
  sessionToken @0 :Data;
  # A token from an earlier LoginFinishResponse binds this connection to that session again.
}

struct PublishKeyPackagesRequest {
  keyPackages @0 :List(Data);
  # Each of these is handed out at most once (RFC 9750 section 5.1).
  lastResort @1 :Data;
  # Served whenever the batch is used up; replaces any earlier last-resort KeyPackage. Empty = keep.
}

struct FetchKeyPackageRequest {
  identityKey @0 :Data;
}

struct ResolveUserRequest {
  username @0 :Text;
}

struct PublishHybridKeyRequest {
  publicKey @0 :Data;
  # X-Wing public key (1216 bytes) others seal hybrid envelopes to; replaces the caller's previous one.
  signature @1 :Data;
  # Ed25519 signature by the caller's identity key over "quicproquo/v1/hybrid-key" || publicKey, so a
  # fetcher trusts the key as far as it trusts the identity key, not the gateway.
}

struct FetchHybridKeyRequest {
  identityKey @0 :Data;
}

struct EnqueueRequest {
  channelId @0 :Data;
  # The channel (16 bytes) whose members receive the payload; the caller must be a member.
  payload @1 :Data;
  # Opaque to the gateway: an MLS message or invitation, padded by the client.
  recipientKey @2 :Data;
  # Empty = every member but the caller. Else one member's identity key: only that member's queue
  # receives the payload (an invitation for someone the commit adds).
  commit @3 :CommitClaims;
  # Only with a commit payload: what the commit does to the channel, applied atomically with accepting
  # it (one commit per epoch). Null for every other payload.
}

struct CommitClaims {
  addMembers @0 :List(Data);
  # Members the commit adds / removes (identity keys).
  removeMembers @1 :List(Data);
  nextTokenHash @2 :Data;
  # SHA-256 of the delivery token of the epoch the commit starts (sealed sender). Empty = no sealed
  # sending in that epoch.
}

struct FetchRequest {
  afterSeq @0 :UInt64;
  # Return envelopes with seq > afterSeq, oldest first.
  limit @1 :UInt32;
  # 0 = the gateway's default page size.
  channelId @2 :Data;
  # Empty = the caller's whole queue; else only envelopes of this channel, of which the caller must be a
  # member.
}

struct AckRequest {
  upToSeq @0 :UInt64;
  # Delete every envelope with seq <= upToSeq from the caller's queue.
}

struct SubscribeRequest {
  afterSeq @0 :UInt64;
  # Envelopes with seq > afterSeq are pushed as they arrive, starting with the backlog.
  channelId @1 :Data;
  # Empty = the caller's whole queue; else only envelopes of this channel, of which the caller must be a
  # member.
}

struct CreateChannelRequest {
  groupId @0 :Data;
  # MLS group id the channel carries; payloads for other groups are refused.
  members @1 :List(Data);
  # Identity keys of the members besides the caller (the creator is always a member).
  epoch @2 :UInt64;
  # The group's current epoch: the next accepted commit must be for this epoch.
  tokenHash @3 :Data;
  # SHA-256 of this epoch's delivery token (sealed sender); empty = none.
}

struct SealedEnqueueRequest {
  channelId @0 :Data;
  # A group channel; the payload is fanned out to every member, the sender included.
  deliveryToken @1 :Data;
  # The channel's delivery token for the payload's epoch: proves membership without naming the sender.
  payload @2 :Data;
  # An MLS PrivateMessage (application content) of the channel's group.
}

struct AttachDeviceRequest {
  deviceKey @0 :Data;
  # Ed25519 public key (32 bytes) of this device's MLS leaf; the session acts for it from now on (its
  # queue, its KeyPackages). An account's original device is the account (identity) key itself.
  issuedAtMs @1 :UInt64;
  certificate @2 :Data;
  # The account key's Ed25519 signature over "quicproquo/v1/device-cert" || u8(len) || username ||
  # deviceKey || u64be(issuedAtMs) (docs/cryptography/devices.md). Empty only for the account key.
  name @3 :Text;
  # The owner's label for the device (at most 64 characters); kept from the first attach.
}

struct ListDevicesRequest {
  identityKey @0 :Data;
  # The account whose devices to list: any user's (their keys and certificates are public), names and
  # last-seen times only for the caller's own.
}

struct RenameDeviceRequest {
  deviceKey @0 :Data;
  name @1 :Text;
}

struct RevokeDeviceRequest {
  deviceKey @0 :Data;
  # One of the caller's devices: its sessions end, its queue and KeyPackages are deleted, and it can
  # never attach again. Members remove its leaves from every group.
}

struct PutAccountBundleRequest {
  bundle @0 :Data;
  # The account secrets sealed under a key from the OPAQUE export key: opaque to the gateway.
}

struct PutBackupRequest {
  entries @0 :List(BackupEntry);
  # Appended to the caller's history backup; an entry whose key is stored already is skipped.
}

struct BackupEntry {
  key @0 :Data;
  # 32 bytes chosen by the client (an HMAC naming what the entry holds).
  ciphertext @1 :Data;
  seq @2 :UInt64;
  # Set by the gateway in FetchBackupResponse (storage order from 1); ignored in PutBackupRequest.
}

struct FetchBackupRequest {
  afterSeq @0 :UInt64;
  limit @1 :UInt32;
  # 0 = the gateway's default page size; pages are also cut by bytes.
}

struct FetchKeyPackagesRequest {
  identityKey @0 :Data;
  # Claims one KeyPackage for each unrevoked device of this account...
  deviceKeys @1 :List(Data);
  # ...or, when not empty, only for these of its devices (adding a device to a group it is not in yet).
}

# ---------------------------------------------------------------------------------------------------
# Gateway -> client

struct ServerFrame {
  union {
    response @0 :Response;
    push @1 :Push;
    # Deliveries for a subscribed session; travel on the gateway's unidirectional push stream.
  }
}

struct Response {
  requestId @0 :UInt32;

  result :union {
    error @1 :WireError;
    hello @2 :HelloResponse;
    health @3 :HealthResponse;
    registerStart @4 :RegisterStartResponse;
    registerFinish @5 :Void;
    loginStart @6 :LoginStartResponse;
    loginFinish @7 :LoginFinishResponse;
    resumeSession @8 :SessionInfo;
    logout @9 :Void;
    publishKeyPackages @10 :PublishKeyPackagesResponse;
    fetchKeyPackage @11 :FetchKeyPackageResponse;
    resolveUser @12 :ResolveUserResponse;
    publishHybridKey @13 :Void;
    fetchHybridKey @14 :FetchHybridKeyResponse;
    createChannel @15 :CreateChannelResponse;
    enqueue @16 :EnqueueResponse;
    sealedEnqueue @17 :SealedEnqueueResponse;
    fetch @18 :FetchResponse;
    ack @19 :AckResponse;
    subscribe @20 :SubscribeResponse;
    attachDevice @21 :AttachDeviceResponse;
    listDevices @22 :ListDevicesResponse;
    renameDevice @23 :Void;
    revokeDevice @24 :Void;
    putAccountBundle @25 :Void;
    getAccountBundle @26 :AccountBundleResponse;
    putBackup @27 :PutBackupResponse;
    fetchBackup @28 :FetchBackupResponse;
    fetchKeyPackages @29 :FetchKeyPackagesResponse;
  }
}

struct WireError {
  code @0 :UInt16;
  # Numeric part of a registry code: 7 means E007 (shared/src/protocol/errors.ts, docs/protocol.md).
  message @1 :Text;
  retryAfterMs @2 :UInt32;
  # For throttling errors: how long to wait before trying again. 0 = not applicable.
}

struct HelloResponse {
  union {
    ok @0 :HelloOk;
    incompatible @1 :Incompatible;
  }
}

struct HelloOk {
  version @0 :UInt16;
  server @1 :Text;
  maxFrameBytes @2 :UInt32;
  maxPayloadBytes @3 :UInt32;
}

struct Incompatible {
  reason @0 :Reason;
  serverMinVersion @1 :UInt16;
  serverMaxVersion @2 :UInt16;

  enum Reason {
    clientTooOld @0;
    serverTooOld @1;
  }
}

struct HealthResponse {
  status @0 :Text;
  version @1 :UInt16;
  uptimeMs @2 :UInt64;
}

struct RegisterStartResponse {
  registrationResponse @0 :Data;
}

struct LoginStartResponse {
  loginId @0 :Data;
  loginResponse @1 :Data;
}

struct SessionInfo {
  username @0 :Text;
  identityKey @1 :Data;
  expiresAtMs @2 :UInt64;
}

struct LoginFinishResponse {
  sessionToken @0 :Data;
  session @1 :SessionInfo;
}

struct PublishKeyPackagesResponse {
  available @0 :UInt32;
  # Unclaimed, non-last-resort KeyPackages now stored for the caller.
}

struct FetchKeyPackageResponse {
  keyPackage @0 :Data;
  lastResort @1 :Bool;
  # True when the batch was exhausted and the last-resort KeyPackage was served (it may be reused).
}

struct ResolveUserResponse {
  identityKey @0 :Data;
}

struct FetchHybridKeyResponse {
  publicKey @0 :Data;
  signature @1 :Data;
}

struct EnqueueResponse {
  seq @0 :UInt64;
}

struct CreateChannelResponse {
  channelId @0 :Data;
  # 16 random bytes naming the channel.
}

struct SealedEnqueueResponse {
  recipients @0 :UInt32;
  # Queues the payload was written to.
}

struct Envelope {
  seq @0 :UInt64;
  channelId @1 :Data;
  payload @2 :Data;
  enqueuedAtMs @3 :UInt64;
}

struct FetchResponse {
  envelopes @0 :List(Envelope);
  more @1 :Bool;
  # True when more envelopes wait beyond this page.
}

struct AckResponse {
  removed @0 :UInt32;
  # Envelopes deleted by this acknowledgement.
}

struct SubscribeResponse {
  headSeq @0 :UInt64;
  # Highest seq currently queued for the caller (0 if empty); pushes follow for newer ones.
}

struct DeviceInfo {
  deviceKey @0 :Data;
  issuedAtMs @1 :UInt64;
  certificate @2 :Data;
  # Empty for the account-key device (its key is the account key).
  revokedAtMs @3 :UInt64;
  # 0 while the device is in use.
  name @4 :Text;
  # The next two only for the caller's own devices (else empty and 0).
  lastSeenMs @5 :UInt64;
  createdAtMs @6 :UInt64;
}

struct AttachDeviceResponse {
  added @0 :Bool;
  # True when this attach registered the device; false when it was the account's already.
}

struct ListDevicesResponse {
  devices @0 :List(DeviceInfo);
  # In the order they were added, revoked ones included.
}

struct AccountBundleResponse {
  bundle @0 :Data;
  # Empty when the account has stored none.
}

struct PutBackupResponse {
  stored @0 :UInt32;
  # How many of the entries were new.
  usedBytes @1 :UInt64;
  limitBytes @2 :UInt64;
}

struct FetchBackupResponse {
  entries @0 :List(BackupEntry);
  more @1 :Bool;
}

struct DeviceKeyPackage {
  deviceKey @0 :Data;
  issuedAtMs @1 :UInt64;
  certificate @2 :Data;
  keyPackage @3 :Data;
  lastResort @4 :Bool;
}

struct FetchKeyPackagesResponse {
  keyPackages @0 :List(DeviceKeyPackage);
  # One per unrevoked device that had a KeyPackage, in the order the devices were added.
}

struct Push {
  union {
    envelope @0 :Envelope;
    sessionEnded @1 :WireError;
    # The session ended (logout elsewhere, expiry); the client must log in again.
  }
}
