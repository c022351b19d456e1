/**
 * A whole group in one process for tests and the MLS benchmark: every member's ClientState, with
 * helpers that hand a message to each member the way the delivery service would. Real ts-mls
 * throughout; only the network is left out.
 */
import { ErrorCode, QpqError } from "../../protocol/errors.ts";
import type { CiphersuiteImpl, ClientState } from "ts-mls";
import { fromUtf8, utf8 } from "../../util/bytes.ts";
import {
  addMembers,
  createGroup,
  decodeMessage,
  encryptApplication,
  joinFromWelcome,
  processIncoming,
  type CommitOutput,
} from "../group.ts";
import { createIdentity, type Identity } from "../identity.ts";
import { decodeKeyPackage, generateKeyPackage, type OwnKeyPackage } from "../keyPackages.ts";
import { policyForSuite } from "../policy.ts";

export type Delivered = { ok: true; plaintext?: Uint8Array } | { ok: false; error: unknown };

export class GroupHarness {
  readonly states = new Map<string, ClientState>();
  readonly identities = new Map<string, Identity>();

  private constructor(readonly impl: CiphersuiteImpl) {}

  /** The first name creates the group and adds all others in one commit. */
  static async create(impl: CiphersuiteImpl, names: string[]): Promise<GroupHarness> {
    const harness = new GroupHarness(impl);
    const [creator, ...rest] = names;
    if (creator === undefined) throw new QpqError(ErrorCode.InvalidArgument, "a group needs a creator");
    const identity = await createIdentity(creator, impl);
    harness.identities.set(creator, identity);
    harness.states.set(creator, await createGroup(identity, impl));
    if (rest.length > 0) await harness.add(creator, rest);
    return harness;
  }

  state(name: string): ClientState {
    const state = this.states.get(name);
    if (!state) throw new QpqError(ErrorCode.InvalidArgument, `${name} is not in the harness`);
    return state;
  }

  /** `by` adds new users (fresh identities); existing members process the commit, joiners the Welcome. */
  async add(by: string, names: string[]): Promise<CommitOutput> {
    const own = new Map<string, OwnKeyPackage>();
    for (const name of names) {
      const identity = await createIdentity(name, this.impl);
      this.identities.set(name, identity);
      const kp = await generateKeyPackage(identity, this.impl);
      own.set(kp.ref, kp);
    }
    const others = [...this.states.keys()].filter((n) => n !== by);
    const output = await addMembers(
      this.state(by),
      this.impl,
      [...own.values()].map((kp) => decodeKeyPackage(kp.encoded)),
    );
    this.states.set(by, output.state);
    await this.deliver(output.commit, others);
    const suite = output.state.groupContext.cipherSuite;
    for (const name of names) {
      const joined = await joinFromWelcome(
        decodeMessage(output.welcome!),
        (ref) => findFor(own, ref, name),
        this.impl,
        policyForSuite(suite),
      );
      this.states.set(name, joined.state);
    }
    return output;
  }

  /** Hands a handshake or application message to each named member; each result is kept per name. */
  async deliver(message: Uint8Array, to: string[]): Promise<Map<string, Delivered>> {
    const results = new Map<string, Delivered>();
    for (const name of to) {
      try {
        const result = await processIncoming(this.state(name), this.impl, decodeMessage(message));
        this.states.set(name, result.state);
        results.set(
          name,
          result.kind === "application" ? { ok: true, plaintext: result.plaintext } : { ok: true },
        );
      } catch (error) {
        results.set(name, { ok: false, error });
      }
    }
    return results;
  }

  async encrypt(from: string, text: string): Promise<Uint8Array> {
    const { state, message } = await encryptApplication(this.state(from), this.impl, utf8(text));
    this.states.set(from, state);
    return message;
  }

  /** Applies a commit created by `by` (its new state) and delivers it to `to`. */
  async applyCommit(by: string, output: CommitOutput, to: string[]): Promise<Map<string, Delivered>> {
    this.states.set(by, output.state);
    return this.deliver(output.commit, to);
  }
}

function findFor(own: Map<string, OwnKeyPackage>, ref: string, name: string): OwnKeyPackage | undefined {
  const kp = own.get(ref);
  const credential = kp?.publicPackage.leafNode.credential;
  if (credential?.credentialType !== "basic") return undefined;
  return fromUtf8(credential.identity) === name ? kp : undefined;
}
