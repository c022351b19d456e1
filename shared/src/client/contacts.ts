/**
 * Who this device believes each contact is. Keys are trusted on first use; comparing safety numbers
 * upgrades a contact to verified. If a verified contact's key ever changes (a new device, or a gateway
 * substituting a key), the change is recorded and reported so the UI can warn loudly until the user
 * verifies again.
 */
import { ErrorCode, QpqError } from "../protocol/errors.ts";
import { bytesEqual } from "../util/bytes.ts";
import { safetyNumber } from "./safetyNumber.ts";
import { canonicalUsername } from "./username.ts";
import type { ClientSession } from "./session.ts";
import type { ContactRecord } from "./storage.ts";

export interface ContactView extends ContactRecord {
  /** True while a verified contact's key has changed and was not verified again. */
  keyChanged: boolean;
  /**
   * True when a group holds a member claiming this username with a key that is not the contact's:
   * someone in that group added an impostor, or the directory lied. Shown loudly.
   */
  impostor: boolean;
  safetyNumber: string;
}

export class Contacts {
  /** Usernames seen in a group with a key other than the one this device holds for them. */
  private readonly impostors = new Set<string>();

  constructor(
    private readonly session: ClientSession,
    /** The directory's key for a username (resolveUser), used when a name is first seen in a group. */
    private readonly lookup: (username: string) => Promise<Uint8Array>,
  ) {}

  /**
   * Checks a group member's claimed name against what this device knows, learning unknown names from
   * the directory rather than from the group: any member can put any name in a credential, so a name
   * first met in a group must not be trusted on first use. A credential holds the canonical form, so a
   * name that is not canonical (a Cyrillic "а", a zero-width space, capitals) can only be a look-alike,
   * and a name the directory does not know was never anyone's: both are flagged, never skipped, since
   * an error here would leave the impostor looking like an ordinary member.
   */
  async checkMember(username: string, memberKey: Uint8Array): Promise<void> {
    if (username === this.session.identity.username) {
      // Our own name: every leaf claiming it must be one of this account's devices.
      if (!bytesEqual(memberKey, this.session.account.publicKey))
        await this.flagUnresolved(username, memberKey);
      return;
    }
    let canonical: string | undefined;
    try {
      canonical = canonicalUsername(username);
    } catch {
      canonical = undefined;
    }
    if (canonical !== username) return this.flagUnresolved(username, memberKey);
    if (!(await this.session.store.getContact(username))) {
      let directoryKey: Uint8Array;
      try {
        directoryKey = await this.lookup(username);
      } catch (error) {
        // Only "no such user" is an answer; a lost connection says nothing about the name.
        if (error instanceof QpqError && error.code === ErrorCode.UserNotFound) {
          return this.flagUnresolved(username, memberKey);
        }
        throw error;
      }
      await this.observe(username, directoryKey);
    }
    const contact = (await this.session.store.getContact(username))!;
    const mismatch = !bytesEqual(contact.identityKey, memberKey);
    if (mismatch === this.impostors.has(username)) return;
    if (mismatch) this.impostors.add(username);
    else this.impostors.delete(username);
    this.session.emit("contact", await this.view(contact));
  }

  /**
   * A name that no directory entry backs: reported as an impostor without storing a contact for it (a
   * stored key would be trusted on first use, which is exactly what the credential must not get).
   */
  private async flagUnresolved(username: string, memberKey: Uint8Array): Promise<void> {
    if (this.impostors.has(username)) return;
    this.impostors.add(username);
    const claimed: ContactRecord = {
      username,
      identityKey: memberKey,
      verified: false,
      firstSeenAtMs: this.session.now(),
    };
    this.session.emit("contact", await this.view(claimed));
  }

  /** Records the key seen for a username; reports a change of a verified contact's key. */
  async observe(username: string, identityKey: Uint8Array): Promise<void> {
    if (username === this.session.identity.username) return;
    const { store } = this.session;
    const known = await store.getContact(username);
    if (!known) {
      await store.putContact({ username, identityKey, verified: false, firstSeenAtMs: this.session.now() });
      return;
    }
    if (bytesEqual(known.identityKey, identityKey)) return;
    const changed: ContactRecord = { ...known, identityKey, verified: false };
    if (known.verified) {
      changed.previousKey = known.identityKey;
      changed.keyChangedAtMs = this.session.now();
    }
    await store.putContact(changed);
    this.session.emit("contact", await this.view(changed));
  }

  async get(username: string): Promise<ContactView | undefined> {
    const contact = await this.session.store.getContact(username);
    return contact && this.view(contact);
  }

  /** The user compared safety numbers and they matched. */
  async verify(username: string): Promise<ContactView> {
    const contact = await this.session.store.getContact(username);
    if (!contact) throw new QpqError(ErrorCode.InvalidArgument, `no key known for ${username}`);
    const verified: ContactRecord = {
      username: contact.username,
      identityKey: contact.identityKey,
      verified: true,
      firstSeenAtMs: contact.firstSeenAtMs,
    };
    await this.session.store.putContact(verified);
    const view = await this.view(verified);
    this.session.emit("contact", view);
    return view;
  }

  private async view(contact: ContactRecord): Promise<ContactView> {
    const { identity, account } = this.session;
    return {
      ...contact,
      keyChanged: contact.previousKey !== undefined,
      impostor: this.impostors.has(contact.username),
      safetyNumber: safetyNumber(
        { username: identity.username, identityKey: account.publicKey },
        { username: contact.username, identityKey: contact.identityKey },
      ),
    };
  }
}
