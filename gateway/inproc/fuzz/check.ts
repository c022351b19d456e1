/**
 * The end state of a fuzz run: once every client is back online and the gateway has nothing left to
 * deliver, every remaining member must be in the same epoch with the same membership (and that
 * membership must be exactly the clients that think they are members, so a client outside it knows
 * it is out), and every message must have reached every member exactly once, in its
 * sender's order.
 */
import { until } from "../harness.ts";
import type { Client, FuzzWorld } from "./world.ts";

interface View {
  client: Client;
  member: boolean;
  epoch: number;
  members: string[];
  pendingCommit: boolean;
  queued: number;
  cursor: number;
  buffered: number;
}

async function views(world: FuzzWorld): Promise<View[]> {
  return Promise.all(
    world.clients.map(async (client) => {
      const messenger = client.actor.messenger;
      const record = (await messenger.conversations()).find((g) => g.id === world.groupId);
      const member = await world.isMember(client);
      return {
        client,
        member,
        epoch: record?.epoch ?? -1,
        members: member ? (await messenger.members(world.groupId)).map((m) => m.username ?? "?").sort() : [],
        pendingCommit: record?.pendingCommit !== undefined,
        queued: await world.gw.store.queueDepth(messenger.identity.signaturePublicKey),
        cursor: await client.actor.store.getCursor(),
        buffered: (await client.actor.store.listPending()).length,
      };
    }),
  );
}

function show(all: View[]): string {
  return all
    .map(
      (v) =>
        `${v.client.actor.name}: ${v.member ? "member" : "outside"} epoch ${v.epoch} [${v.members.join(",")}]` +
        `${v.pendingCommit ? " pending-commit" : ""} queued ${v.queued} cursor ${v.cursor}` +
        ` buffered ${v.buffered} online ${v.client.online}` +
        ` errors: ${v.client.actor.errors.slice(-3).map(String).join(" | ")}`,
    )
    .join("\n");
}

/** Problems with the converged state; empty when the run is correct. */
export async function converge(world: FuzzWorld, timeoutMs = 15_000): Promise<string[]> {
  let last: View[] = [];
  const actors = world.clients.map((c) => c.actor);
  try {
    await until(
      actors,
      () => `convergence\n${show(last)}`,
      async () => {
        for (const client of world.clients) {
          await client.actor.messenger.settled();
          if (!client.online) await world.reconnect(client);
        }
        last = await views(world);
        const members = last.filter((v) => v.member);
        const first = members[0];
        // No member at all is a possible end: the last ones left or removed each other concurrently.
        return (
          last.every((v) => v.queued === 0 && !v.pendingCommit) &&
          members.every((v) => v.epoch === first!.epoch && v.members.join() === first!.members.join())
        );
      },
      timeoutMs,
    );
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
  const problems: string[] = [];
  const members = last.filter((v) => v.member);
  if (members.length === 0) {
    world.note("checked: no member left");
    return [];
  }
  const names = members.map((v) => v.client.actor.name).sort();
  if (members[0]!.members.join() !== names.join()) {
    problems.push(
      `MLS membership [${members[0]!.members}] is not the clients that are members [${names}]\n${show(last)}`,
    );
  }
  problems.push(...(await checkMessages(world, members)));
  return problems;
}

async function checkMessages(world: FuzzWorld, members: View[]): Promise<string[]> {
  const problems: string[] = [];
  let requiredCount = 0;
  for (const receiver of members) {
    const stored = await receiver.client.actor.messenger.messages(world.groupId);
    for (const sender of members) {
      if (sender === receiver) continue;
      const senderName = sender.client.actor.name;
      const got = stored.filter((m) => m.sender === senderName && m.status === "received").map((m) => m.id);
      const arrival = receiver.client.actor.received
        .filter((m) => m.groupId === world.groupId && m.sender === senderName)
        .map((m) => m.id);
      const prefix = `${receiver.client.actor.name} from ${senderName}`;
      if (new Set(got).size !== got.length) problems.push(`${prefix}: a message stored twice`);
      const join = receiver.client.joinEpoch ?? Infinity;
      for (const sent of sender.client.sent) {
        const copies = got.filter((id) => id === sent.id).length;
        const required = sent.epoch !== undefined && sent.epoch >= join;
        if (required) requiredCount++;
        if (required && copies !== 1)
          problems.push(`${prefix}: ${sent.text} (epoch ${sent.epoch}) arrived ${copies} times`);
      }
      // Order: first arrivals of messages sent on the first try follow the sender's order.
      const order = sender.client.sent.filter((s) => s.firstTry).map((s) => s.id);
      const firstArrivals = [...new Set(arrival)].filter((id) => order.includes(id));
      const expected = order.filter((id) => firstArrivals.includes(id));
      if (firstArrivals.join() !== expected.join()) {
        const text = (ids: string[]) =>
          ids.map((id) => sender.client.sent.find((s) => s.id === id)?.text).join(",");
        problems.push(`${prefix}: order ${text(firstArrivals)}, sent ${text(expected)}`);
      }
    }
    const undecryptable = stored.filter((m) => m.status === "undecryptable").length;
    if (undecryptable > 0) {
      world.note(`note: ${receiver.client.actor.name} has ${undecryptable} undecryptable`);
    }
  }
  world.note(`checked: ${members.length} members, ${requiredCount} required deliveries`);
  return problems;
}
