@0xa1b5bdedc0e91fa4;
# quicproquo wire protocol: the single source of truth for every message exchanged between a client
# and the gateway. Each message travels as one frame (see docs/protocol.md): a 4-byte little-endian
# length, then a standard Cap'n Proto message (segment table + segments), unpacked.
#
# Compatibility rules: never renumber or retype a field; add new fields and union members at the end
# with the next ordinal; bump PROTOCOL_VERSION in shared/src/protocol/version.ts only for changes an
# old peer cannot ignore.

# ---------------------------------------------------------------------------------------------------
# Client -> gateway

struct ClientFrame {
  # Echoed back in the matching Response so a client can have many requests in flight on one stream.
  requestId @0 :UInt32;

  request :union {
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
    enqueue @12 :EnqueueRequest;
    fetch @13 :FetchRequest;
    ack @14 :AckRequest;
    subscribe @15 :SubscribeRequest;
    createChannel @16 :CreateChannelRequest;
    createGroupChannel @17 :CreateGroupChannelRequest;
    sealedEnqueue @18 :SealedEnqueueRequest;
    # 19 is handed to parallel work; Cap'n Proto allows no holes, so a placeholder holds it until that
    # work lands and names it.
    reserved19 @19 :Void;
    publishHybridKey @20 :PublishHybridKeyRequest;
    fetchHybridKey @21 :FetchHybridKeyRequest;
  }
}

struct HelloRequest {
  # The client speaks every version in [minVersion, maxVersion].
  minVersion @0 :UInt16;
  maxVersion @1 :UInt16;
  client @2 :Text;
}

struct RegisterStartRequest {
  username @0 :Text;
  # OPAQUE RegistrationRequest (serenity-kit base64url string, sent as bytes).
  registrationRequest @1 :Data;
}

struct RegisterFinishRequest {
  username @0 :Text;
  # OPAQUE RegistrationRecord: what the gateway stores instead of a password.
  registrationRecord @1 :Data;
  # Ed25519 public key of the user's MLS BasicCredential, bound to the username at registration.
  identityKey @2 :Data;
}

struct LoginStartRequest {
  username @0 :Text;
  startLoginRequest @1 :Data;
}

struct LoginFinishRequest {
  # Opaque handle from LoginStartResponse: the gateway keeps the OPAQUE server state meanwhile.
  loginId @0 :Data;
  finishLoginRequest @1 :Data;
}

struct ResumeSessionRequest {
  # A token from an earlier LoginFinishResponse binds this connection to that session again.
  sessionToken @0 :Data;
}

struct PublishKeyPackagesRequest {
  # Each of these is handed out at most once (RFC 9750 section 5.1).
  keyPackages @0 :List(Data);
  # Served whenever the batch is used up; replaces any earlier last-resort KeyPackage. Empty = keep.
  lastResort @1 :Data;
}

struct FetchKeyPackageRequest {
  identityKey @0 :Data;
}

struct ResolveUserRequest {
  username @0 :Text;
}

struct PublishHybridKeyRequest {
  # X-Wing public key (1216 bytes) others seal hybrid envelopes to; replaces the caller's previous one.
  publicKey @0 :Data;
  # Ed25519 signature by the caller's identity key over "quicproquo/v1/hybrid-key" || publicKey, so a
  # fetcher trusts the key as far as it trusts the identity key, not the gateway.
  signature @1 :Data;
}

struct FetchHybridKeyRequest {
  identityKey @0 :Data;
}

struct EnqueueRequest {
  # Identity key of the recipient whose queue receives the payload.
  recipientKey @0 :Data;
  # Empty, or a 16-byte channel id (authorized per channel in a later protocol step).
  channelId @1 :Data;
  # Opaque to the gateway: an MLS message or Welcome, padded by the client.
  payload @2 :Data;
  # Group channels only, with a commit payload: members the commit adds / removes. The gateway applies
  # them atomically with accepting the commit (one commit per epoch).
  addMembers @3 :List(Data);
  removeMembers @4 :List(Data);
  # Group channels only, with a commit payload: SHA-256 of the delivery token of the epoch the commit
  # starts (sealed sender). Empty = no sealed sending in that epoch.
  nextTokenHash @5 :Data;
}

struct FetchRequest {
  # Return envelopes with seq > afterSeq, oldest first.
  afterSeq @0 :UInt64;
  # 0 = the gateway's default page size.
  limit @1 :UInt32;
  # Empty = the whole queue; else only envelopes of this channel, of which the caller must be a member.
  channelId @2 :Data;
}

struct AckRequest {
  # Delete every envelope with seq <= upToSeq from the caller's queue.
  upToSeq @0 :UInt64;
}

struct SubscribeRequest {
  # Envelopes with seq > afterSeq are pushed as they arrive, starting with the backlog.
  afterSeq @0 :UInt64;
  # Empty = the whole queue; else only envelopes of this channel, of which the caller must be a member.
  channelId @1 :Data;
}

struct CreateChannelRequest {
  # The other member of a direct (DM) channel; the same pair always gets the same channel.
  peerKey @0 :Data;
}

struct CreateGroupChannelRequest {
  # MLS group id the channel carries; payloads for other groups are refused.
  groupId @0 :Data;
  # Identity keys of the members besides the caller (the creator is always a member).
  members @1 :List(Data);
  # The group's current epoch: the next accepted commit must be for this epoch.
  epoch @2 :UInt64;
  # SHA-256 of this epoch's delivery token (sealed sender); empty = none.
  tokenHash @3 :Data;
}

struct SealedEnqueueRequest {
  # A group channel; the payload is fanned out to every member, the sender included.
  channelId @0 :Data;
  # The channel's delivery token for the payload's epoch: proves membership without naming the sender.
  deliveryToken @1 :Data;
  # An MLS PrivateMessage (application content) of the channel's group.
  payload @2 :Data;
}

# ---------------------------------------------------------------------------------------------------
# Gateway -> client

struct ServerFrame {
  union {
    response @0 :Response;
    # Deliveries for a subscribed session; travel on the gateway's unidirectional push stream.
    push @1 :Push;
  }
}

struct Response {
  requestId @0 :UInt32;

  result :union {
    error @1 :Error;
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
    enqueue @13 :EnqueueResponse;
    fetch @14 :FetchResponse;
    ack @15 :AckResponse;
    subscribe @16 :SubscribeResponse;
    createChannel @17 :CreateChannelResponse;
    createGroupChannel @18 :CreateChannelResponse;
    sealedEnqueue @19 :SealedEnqueueResponse;
    # 20: placeholder for parallel work, as in ClientFrame.
    reserved20 @20 :Void;
    publishHybridKey @21 :Void;
    fetchHybridKey @22 :FetchHybridKeyResponse;
  }
}

struct Error {
  # Numeric part of a registry code: 7 means E007 (shared/src/protocol/errors.ts, docs/protocol.md).
  code @0 :UInt16;
  message @1 :Text;
  # For throttling errors: how long to wait before trying again. 0 = not applicable.
  retryAfterMs @2 :UInt32;
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
  # Unclaimed, non-last-resort KeyPackages now stored for the caller.
  available @0 :UInt32;
}

struct FetchKeyPackageResponse {
  keyPackage @0 :Data;
  # True when the batch was exhausted and the last-resort KeyPackage was served (it may be reused).
  lastResort @1 :Bool;
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
  # 16 random bytes naming the channel.
  channelId @0 :Data;
}

struct SealedEnqueueResponse {
  # Queues the payload was written to.
  recipients @0 :UInt32;
}

struct Envelope {
  seq @0 :UInt64;
  channelId @1 :Data;
  payload @2 :Data;
  enqueuedAtMs @3 :UInt64;
}

struct FetchResponse {
  envelopes @0 :List(Envelope);
  # True when more envelopes wait beyond this page.
  more @1 :Bool;
}

struct AckResponse {
  # Envelopes deleted by this acknowledgement.
  removed @0 :UInt32;
}

struct SubscribeResponse {
  # Highest seq currently queued for the caller (0 if empty); pushes follow for newer ones.
  headSeq @0 :UInt64;
}

struct Push {
  union {
    envelope @0 :Envelope;
    # The session ended (logout elsewhere, expiry); the client must log in again.
    sessionEnded @1 :Error;
  }
}
