/**
 * A seeded multi-client run on one in-process gateway: clients in one group doing concurrent sends,
 * commits (add, remove, self-update), connection drops, reconnects and gateway crashes, chosen by a
 * PRNG. Rounds run up to three clients' actions at once; an action that fails (a dropped connection,
 * a lost commit race) is part of the run, not a test failure. check.ts judges the end state.
 */
import type { CiphersuiteName } from "ts-mls";
import { GatewayClient } from "@qpq/shared/client";
import { decodeState, wasRemoved } from "@qpq/shared/mls";
import { inProcessGateway, type InProcessGateway } from "../../src/testing/index.ts";
import { epochOf, seedNamedActor, type Actor } from "../harness.ts";
import { Prng } from "./prng.ts";

export interface FuzzOptions {
  seed: number;
  /** Clients in the run (3-5 by default, from the seed). */
  clients?: number;
  /** Rounds of concurrent actions (bounded; 40 by default). */
  rounds?: number;
  suite?: CiphersuiteName;
  /** Also proposals committed by others (proposeRemoval, leave); see fuzz.test.ts for why optional. */
  proposals?: boolean;
}

/** A message as its sender sent it; epoch is known only when no commit moved the group meanwhile. */
export interface Sent {
  id: string;
  text: string;
  /** "sent" on the first attempt (otherwise it went out later from the outbox, or never). */
  firstTry: boolean;
  epoch: number | undefined;
}

export interface Client {
  actor: Actor;
  address: string;
  token: Uint8Array;
  online: boolean;
  /** Epoch of the first state this client had of the group (its Welcome, or 0 for the creator). */
  joinEpoch: number | undefined;
  /** An add of this client is under way (its fate may be unknown until everyone caught up). */
  invited: boolean;
  sent: Sent[];
}

export class FuzzWorld {
  readonly log: string[] = [];
  readonly clients: Client[] = [];
  groupId = "";
  private counter = 0;

  private constructor(
    readonly gw: InProcessGateway,
    readonly rng: Prng,
    private readonly suite: CiphersuiteName | undefined,
    private readonly proposals: boolean,
  ) {}

  static async create(options: FuzzOptions): Promise<FuzzWorld> {
    // Tiny fallback steps: the run must not wait for proposal timers; no rate limit gets in the way.
    const gw = await inProcessGateway({ limits: { rateLimits: false } });
    const world = new FuzzWorld(gw, new Prng(options.seed), options.suite, options.proposals ?? false);
    const count = options.clients ?? world.rng.int(3, 5);
    for (let i = 0; i < count; i++) await world.addClient(`c${i}`);
    return world;
  }

  note(line: string): void {
    this.log.push(line);
  }

  private async addClient(base: string): Promise<void> {
    const address = `10.1.0.${this.clients.length + 1}`;
    const actor = await seedNamedActor(this.gw, base, {
      ...(this.suite ? { suite: this.suite } : {}),
      proposalFallbackStepMs: 5,
    });
    const client: Client = {
      actor,
      address,
      token: actor.messenger.login.sessionToken,
      online: true,
      joinEpoch: undefined,
      invited: false,
      sent: [],
    };
    // The harness connected it from the default address; reconnect it from its own so drops can aim.
    actor.messenger.detach();
    actor.client.close();
    client.online = false;
    await this.reconnect(client);
    actor.messenger.on("conversation", (group) => {
      if (group.id !== this.groupId || client.joinEpoch !== undefined) return;
      // A state we were removed from (an old one, before a re-add) is no join.
      if (group.leftAtMs === undefined && !wasRemoved(decodeState(group.state)))
        client.joinEpoch = group.epoch;
    });
    this.clients.push(client);
  }

  async start(): Promise<void> {
    const [owner, ...rest] = this.clients;
    const initial = this.rng.sample(rest, this.rng.int(1, rest.length));
    owner!.joinEpoch = 0;
    owner!.invited = true;
    for (const c of initial) c.invited = true;
    this.groupId = await owner!.actor.messenger.createConversation("fuzz");
    await owner!.actor.messenger.invite(
      this.groupId,
      initial.map((c) => c.actor.name),
    );
    this.note(`start: ${owner!.actor.name} with ${initial.map((c) => c.actor.name).join(",")}`);
  }

  async run(rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) {
      const chosen = this.rng.sample(this.clients, this.rng.int(1, 3));
      const actions = chosen.map((client) => this.action(round, client));
      await Promise.all(actions);
    }
  }

  /** Reconnects every client and retries what the run left failed, for the final check. */
  async settle(): Promise<void> {
    this.gw.setReachable(true);
    for (const client of this.clients) await this.reconnect(client);
  }

  async isMember(client: Client): Promise<boolean> {
    const messenger = client.actor.messenger;
    if (!(await messenger.conversations()).some((g) => g.id === this.groupId)) return false;
    return !(await messenger.lifecycle.isRemoved(this.groupId));
  }

  async reconnect(client: Client): Promise<void> {
    if (client.online) return;
    const messenger = client.actor.messenger;
    let gw: GatewayClient | undefined;
    try {
      gw = await GatewayClient.connect(this.gw.connect({ remoteAddress: client.address }));
      await gw.resumeSession(client.token);
      client.online = true;
      client.actor.client = gw;
      await messenger.attach(gw);
    } catch (error) {
      this.note(`  ${client.actor.name} reconnect failed: ${describe(error)}`);
      client.online = false;
      messenger.detach();
      gw?.close();
    }
  }

  private drop(client: Client): void {
    client.online = false;
    this.gw.disconnect((session) => session.remoteAddress === client.address);
    // What ConnectionManager does when the connection closes.
    client.actor.messenger.detach();
  }

  private async action(round: number, client: Client): Promise<void> {
    const name = client.actor.name;
    const messenger = client.actor.messenger;
    const member = client.online && (await this.isMember(client));
    // Without proposals the last 16% of the range are plain removals and self-updates.
    const raw = this.rng.next();
    const roll = this.proposals || raw < 0.84 ? raw : raw < 0.92 ? 0.8 : 0.55;
    const label = `r${round} ${name}`;
    try {
      if (!client.online) {
        if (roll < 0.3) return this.note(`${label} stays offline`);
        this.note(`${label} reconnect`);
        await this.reconnect(client);
      } else if (roll < 0.08 || (!member && roll < 0.3)) {
        // Drops land a few ticks in, so they can cut through the other actions of the round.
        const ticks = this.rng.int(0, 20);
        this.note(`${label} drop after ${ticks} ticks`);
        for (let i = 0; i < ticks; i++) await new Promise((resolve) => setImmediate(resolve));
        this.drop(client);
      } else if (!member) {
        this.note(`${label} idle`);
      } else if (roll < 0.1) {
        this.note(`${label} gateway crash`);
        for (const c of this.clients) c.online = false;
        await this.gw.crash();
        for (const c of this.clients) c.actor.messenger.detach();
      } else if (roll < 0.5) {
        const text = `${name}#${++this.counter}`;
        this.note(`${label} send ${text}`);
        const before = await epochOf(client.actor, this.groupId);
        const sent = await messenger.send(this.groupId, text);
        const after = await epochOf(client.actor, this.groupId);
        const firstTry = sent.status === "sent";
        client.sent.push({
          id: sent.id,
          text,
          firstTry,
          epoch: firstTry && before === after ? before : undefined,
        });
      } else if (roll < 0.6) {
        this.note(`${label} self-update`);
        await messenger.lifecycle.rotateKeys(this.groupId);
      } else if (roll < 0.74) {
        const inGroup = new Set((await messenger.members(this.groupId)).map((m) => m.username));
        const outside: Client[] = [];
        for (const c of this.clients) {
          if (c.invited || inGroup.has(c.actor.name)) continue;
          // Re-adding a removed client is fine once it knows; a never-added one has no group at all.
          const neverJoined = !(await c.actor.messenger.conversations()).some((g) => g.id === this.groupId);
          if (neverJoined || (await c.actor.messenger.lifecycle.isRemoved(this.groupId))) outside.push(c);
        }
        if (outside.length === 0) return this.note(`${label} add: nobody left to add`);
        const joiner = this.rng.pick(outside);
        joiner.invited = true;
        joiner.joinEpoch = undefined;
        this.note(`${label} add ${joiner.actor.name}`);
        try {
          await messenger.invite(this.groupId, [joiner.actor.name]);
        } finally {
          joiner.invited = false;
        }
      } else if (roll < 0.84) {
        const others = (await messenger.members(this.groupId))
          .map((m) => m.username)
          .filter((u): u is string => u !== undefined && u !== name);
        if (others.length < 2) return this.note(`${label} remove: too few members`);
        const target = this.rng.pick(others.sort());
        this.note(`${label} remove ${target}`);
        await messenger.lifecycle.remove(this.groupId, target);
      } else if (roll < 0.92) {
        const others = (await messenger.members(this.groupId))
          .map((m) => m.username)
          .filter((u): u is string => u !== undefined && u !== name);
        if (others.length < 2) return this.note(`${label} propose removal: too few members`);
        const target = this.rng.pick(others.sort());
        this.note(`${label} propose removal of ${target}`);
        await messenger.lifecycle.proposeRemoval(this.groupId, target);
      } else {
        if ((await messenger.members(this.groupId)).length < 3) return this.note(`${label} leave: too few`);
        this.note(`${label} leave`);
        await messenger.lifecycle.leave(this.groupId);
      }
    } catch (error) {
      this.note(`  ${label} failed: ${describe(error)}`);
    }
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.actor.messenger.close();
    await this.gw.close();
  }
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
