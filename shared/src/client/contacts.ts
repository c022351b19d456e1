/**
 * Who this device believes each contact is. Keys are trusted on first use; comparing safety numbers
 * upgrades a contact to verified. If a verified contact's key ever changes (a new device, or a gateway
 * substituting a key), the change is recorded and reported so the UI can warn loudly until the user
 * verifies again.
 */
import { bytesEqual } from "../util/bytes.ts";
import { safetyNumber } from "./safetyNumber.ts";
import type { ClientSession } from "./session.ts";
import type { ContactRecord } from "./storage.ts";

export interface ContactView extends ContactRecord {
  /** True while a verified contact's key has changed and was not verified again. */
  keyChanged: boolean;
  safetyNumber: string;
}

export class Contacts {
  constructor(private readonly session: ClientSession) {}

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
    if (!contact) throw new Error(`no key known for ${username}`);
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
    const { identity } = this.session;
    return {
      ...contact,
      keyChanged: contact.previousKey !== undefined,
      safetyNumber: safetyNumber(
        { username: identity.username, identityKey: identity.signaturePublicKey },
        { username: contact.username, identityKey: contact.identityKey },
      ),
    };
  }
}
