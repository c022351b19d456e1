/**
 * `npm run bench:mls`: MLS group operations for both suites (X-Wing default, classical X25519) at 10,
 * 50 and 200 members, in one Node process (no network): commit create/process time, commit and
 * Welcome sizes (with the ratchet tree in the Welcome, and without it), joining, 1 KiB
 * encrypt/decrypt, state size; at 10 and 50 members also the same commit and message times with
 * ts-mls's default WebCrypto provider beside ours (suites.ts). Writes only its own section of
 * docs/benchmarks.md.
 * Options: --quick (10 and 50 members, fewer iterations), --no-write, --rows FILE (render the section
 * from the JSON lines a previous run printed, without measuring again).
 *
 * Every member but two (the committer and one receiver) exists only as a KeyPackage: the timed
 * operations are pure functions of one member's state, so the others never need to join.
 */
import { readFileSync } from "node:fs";
import { cpus, freemem, loadavg, totalmem, release, type } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createCommit,
  defaultCryptoProvider,
  encodeMlsMessage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type CiphersuiteImpl,
  type ClientState,
} from "ts-mls";
import { encodeRatchetTree } from "ts-mls/ratchetTree.js";
import {
  CLASSICAL_SUITE,
  DEFAULT_SUITE,
  addMembers,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  decodeMessage,
  decodeState,
  encodeState,
  encryptApplication,
  generateKeyPackage,
  joinFromWelcome,
  policyForSuite,
  processIncoming,
  selfUpdate,
  suiteImpl,
  type OwnKeyPackage,
} from "@qpq/shared/mls";
import { writeBenchSection } from "../../scripts/benchDoc.ts";

const SECTION = "## MLS group operations (ts-mls, one Node process)";
const quick = process.argv.includes("--quick");
const write = !process.argv.includes("--no-write");
const sizes = quick ? [10, 50] : [10, 50, 200];
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

interface Row {
  suite: string;
  members: number;
  commitCreateMs: number;
  commitProcessMs: number;
  commitBytes: number;
  addCreateMs: number;
  addCommitBytes: number;
  welcomeBytes: number;
  welcomeNoTreeBytes: number;
  treeBytes: number;
  joinMs: number;
  encryptMs: number;
  decryptMs: number;
  stateBytes: number;
}

/** One suite and size measured with one crypto provider (the provider comparison table). */
interface ProviderRow {
  provider: string;
  suite: string;
  members: number;
  commitCreateMs: number;
  commitProcessMs: number;
  encryptMs: number;
  decryptMs: number;
}

const WEBCRYPTO = "ts-mls default (WebCrypto)";
const OURS = "ours (noble)";

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Median time of fn over runs. ts-mls zeroes the secrets an operation consumes inside the state it was
 * given, so operations repeated from one state get a fresh copy each time (made outside the timing).
 */
async function timed<T, S>(
  runs: number,
  prepare: () => S,
  fn: (input: S) => Promise<T>,
): Promise<{ ms: number; last: T }> {
  const samples: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < runs; i++) {
    const input = prepare();
    const start = performance.now();
    last = await fn(input);
    samples.push(performance.now() - start);
  }
  return { ms: median(samples), last: last as T };
}

const copyOf = (state: ClientState) => () => decodeState(encodeState(state));
const none = () => undefined;

async function keyPackages(impl: CiphersuiteImpl, count: number, prefix: string): Promise<OwnKeyPackage[]> {
  const out: OwnKeyPackage[] = [];
  for (let i = 0; i < count; i++) {
    out.push(await generateKeyPackage(await createIdentity(`${prefix}${i}`, impl), impl));
  }
  return out;
}

async function measure(suite: typeof DEFAULT_SUITE, members: number): Promise<Row> {
  const impl = await suiteImpl(suite);
  const runs = members >= 200 ? 5 : quick ? 5 : 11;
  // The group: alice adds everyone (one commit), bob joins from the Welcome.
  const others = await keyPackages(impl, members - 1, "m");
  let alice: ClientState = await createGroup(await createIdentity("alice", impl), impl);
  const added = await addMembers(
    alice,
    impl,
    others.map((kp) => decodeKeyPackage(kp.encoded)),
  );
  alice = added.state;
  const bobKp = others[0]!;
  let bob = (
    await joinFromWelcome(
      decodeMessage(added.welcome!),
      (ref) => (ref === bobKp.ref ? bobKp : undefined),
      impl,
      policyForSuite(suite),
    )
  ).state;

  if (members <= 50) {
    for (const row of await compareProviders(suite, members, alice, bob)) {
      providerRows.push(row);
      console.log(JSON.stringify(row));
    }
  }

  // Self-update (empty commit with an update path): what "rotate my keys" and removals cost.
  const update = await timed(runs, copyOf(alice), (state) => selfUpdate(state, impl));
  const commitMessage = update.last.commit;
  const processed = await timed(runs, copyOf(bob), (state) =>
    processIncoming(state, impl, decodeMessage(commitMessage)),
  );

  // Adding one more member: the commit, and the Welcome with and without the ratchet tree.
  const [joiner] = await keyPackages(impl, 1, "late");
  const joinerPackage = decodeKeyPackage(joiner!.encoded);
  const add = await timed(runs, copyOf(alice), (state) => addMembers(state, impl, [joinerPackage]));
  const withoutTree = await createCommit(
    { state: copyOf(alice)(), cipherSuite: impl },
    {
      extraProposals: [{ proposalType: "add", add: { keyPackage: joinerPackage } }],
      ratchetTreeExtension: false,
    },
  );
  const welcomeNoTree = encodeMlsMessage({
    welcome: withoutTree.welcome!,
    wireformat: "mls_welcome",
    version: "mls10",
  });
  const welcome = decodeMessage(add.last.welcome!);
  const join = await timed(runs, none, () =>
    joinFromWelcome(welcome, () => joiner, impl, policyForSuite(suite)),
  );

  // 1 KiB application messages, alice -> bob, on the states as they are (no commit applied).
  const payload = new Uint8Array(1024).fill(7);
  const messages: Uint8Array[] = [];
  const encryptRuns = 50;
  const enc = await timed(encryptRuns, none, async () => {
    const out = await encryptApplication(alice, impl, payload);
    alice = out.state;
    messages.push(out.message);
  });
  let index = 0;
  const dec = await timed(encryptRuns, none, async () => {
    const out = await processIncoming(bob, impl, decodeMessage(messages[index++]!));
    bob = out.state;
  });

  return {
    suite,
    members,
    commitCreateMs: update.ms,
    commitProcessMs: processed.ms,
    commitBytes: update.last.commit.length,
    addCreateMs: add.ms,
    addCommitBytes: add.last.commit.length,
    welcomeBytes: add.last.welcome!.length,
    welcomeNoTreeBytes: welcomeNoTree.length,
    treeBytes: encodeRatchetTree(alice.ratchetTree).length,
    joinMs: join.ms,
    encryptMs: enc.ms,
    decryptMs: dec.ms,
    stateBytes: encodeState(alice).length,
  };
}

const providerRows: ProviderRow[] = [];

/**
 * Self-update create/process and 1 KiB encrypt/decrypt from the same group states with both providers,
 * interleaved round by round so that load from other work on the shared machine falls on both alike.
 */
async function compareProviders(
  suite: typeof DEFAULT_SUITE,
  members: number,
  alice: ClientState,
  bob: ClientState,
): Promise<ProviderRow[]> {
  const providers: [string, CiphersuiteImpl][] = [
    [WEBCRYPTO, await getCiphersuiteImpl(getCiphersuiteFromName(suite), defaultCryptoProvider)],
    [OURS, await suiteImpl(suite)],
  ];
  const samples = providers.map(() => ({
    create: [] as number[],
    process: [] as number[],
    enc: [] as number[],
    dec: [] as number[],
  }));
  // Each provider keeps its own sender and receiver for messages, so both ratchet the same distance.
  const senders = providers.map(() => copyOf(alice)());
  const receivers = providers.map(() => copyOf(bob)());
  const payload = new Uint8Array(1024).fill(7);
  const time = async <T>(into: number[], fn: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    const out = await fn();
    into.push(performance.now() - start);
    return out;
  };
  for (let round = 0; round < 5; round++) {
    for (const [i, [, impl]] of providers.entries()) {
      const s = samples[i]!;
      const committer = copyOf(alice)();
      const receiver = copyOf(bob)();
      const update = await time(s.create, () => selfUpdate(committer, impl));
      await time(s.process, () => processIncoming(receiver, impl, decodeMessage(update.commit)));
      for (let m = 0; m < 10; m++) {
        const sent = await time(s.enc, () => encryptApplication(senders[i]!, impl, payload));
        senders[i] = sent.state;
        const message = decodeMessage(sent.message);
        receivers[i] = (await time(s.dec, () => processIncoming(receivers[i]!, impl, message))).state;
      }
    }
  }
  return providers.map(([provider], i) => ({
    provider,
    suite,
    members,
    commitCreateMs: median(samples[i]!.create),
    commitProcessMs: median(samples[i]!.process),
    encryptMs: median(samples[i]!.enc),
    decryptMs: median(samples[i]!.dec),
  }));
}

const kb = (n: number) => (n >= 10_000 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1024).toFixed(1)} KiB`);
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));
const shortSuite = (s: string) => (s === DEFAULT_SUITE ? "X-Wing" : "X25519");

async function measureAll(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const suite of [DEFAULT_SUITE, CLASSICAL_SUITE]) {
    for (const members of sizes) {
      const row = await measure(suite, members);
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const rowsFile = process.argv[process.argv.indexOf("--rows") + 1];
  const saved =
    process.argv.includes("--rows") && rowsFile
      ? readFileSync(rowsFile, "utf8")
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Row | ProviderRow)
      : undefined;
  if (saved) providerRows.push(...saved.filter((r): r is ProviderRow => "provider" in r));
  const rows: Row[] = saved ? saved.filter((r): r is Row => !("provider" in r)) : await measureAll();
  const cpu = cpus();
  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    SECTION,
    "",
    `Measured by \`npm run bench:mls\` on ${date}, once, with modest iteration counts (median of 5 to 11`,
    `runs for group operations, of 50 for messages). Machine: ${cpu.length} × ${cpu[0]?.model.split(" ").slice(0, 2).join(" ") ?? "CPU"},`,
    `${Math.round(totalmem() / 2 ** 30)} GiB RAM (${Math.round(freemem() / 2 ** 30)} GiB free), ${type()} ${release()}, Node ${process.version}.`,
    `The machine's two cores were shared with other work while this ran (5-minute load average ${loadavg()[1]!.toFixed(1)}`,
    "when the section was written), so times are indicative only.",
    "X-Wing is `MLS_256_XWING_AES256GCM_SHA512_Ed25519`, X25519 is `MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519`.",
    "",
    "### Commits and messages",
    "",
    "| suite | members | self-update create ms | process ms | commit size | 1 KiB encrypt ms | 1 KiB decrypt ms | state size |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${shortSuite(r.suite)} | ${r.members} | ${ms(r.commitCreateMs)} | ${ms(r.commitProcessMs)} | ${kb(r.commitBytes)} | ${ms(r.encryptMs)} | ${ms(r.decryptMs)} | ${kb(r.stateBytes)} |`,
    ),
    "",
    'The self-update is an empty commit with an update path (what removals and "rotate my keys" send),',
    "made by the member who created the group by adding everyone in one commit. Such a fresh tree has no",
    "keys above the leaves, so the update path is encrypted to every other leaf: this is the worst case",
    "for commit size and time. As members commit, parent nodes fill and a commit needs about log2(n)",
    "ciphertexts instead of n - 1. State size is the committer's encoded ClientState (tree, secrets, 4 past",
    "epochs' receiver data).",
    "",
    "### Adding a member: commit, Welcome, ratchet tree",
    "",
    "| suite | members | add commit create ms | add commit size | Welcome with tree | Welcome without tree | ratchet tree | join ms |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${shortSuite(r.suite)} | ${r.members} | ${ms(r.addCreateMs)} | ${kb(r.addCommitBytes)} | ${kb(r.welcomeBytes)} | ${kb(r.welcomeNoTreeBytes)} | ${kb(r.treeBytes)} | ${ms(r.joinMs)} |`,
    ),
    "",
    "### Crypto provider",
    "",
    "The same self-update and messages from the same group states with ts-mls's default provider",
    "(hashes, HMAC, HKDF and the message AEAD through WebCrypto) and with ours (`mlsCryptoProvider` in",
    "shared/src/mls/suites.ts: ts-mls's noble provider, which does hashes, HMAC and AES-GCM in",
    "JavaScript, plus noble's HKDF). Both leave HPKE and Ed25519 as ts-mls builds them and compute the",
    "same functions, so members on either provider share groups (tested in suites.test.ts). Interleaved,",
    "medians of 5 rounds (commits) and 50 messages.",
    "",
    "| suite | members | provider | self-update create ms | process ms | 1 KiB encrypt ms | 1 KiB decrypt ms |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...providerRows.map(
      (r) =>
        `| ${shortSuite(r.suite)} | ${r.members} | ${r.provider} | ${ms(r.commitCreateMs)} | ${ms(r.commitProcessMs)} | ${ms(r.encryptMs)} | ${ms(r.decryptMs)} |`,
    ),
    "",
  ];
  const text = lines.join("\n") + "\n" + analysis(rows);
  console.log(text);
  if (write) await writeBenchSection(join(root, "docs/benchmarks.md"), SECTION, text);
}

/** Prose around the tables; every number in it comes from the rows. */
function analysis(rows: Row[]): string {
  const find = (suite: string, n: number) => rows.find((r) => r.suite === suite && r.members === n);
  const x10 = find(DEFAULT_SUITE, 10);
  const c10 = find(CLASSICAL_SUITE, 10);
  const x200 = find(DEFAULT_SUITE, 200);
  const c200 = find(CLASSICAL_SUITE, 200);
  const ratio = (a: number, b: number) => (a / b).toFixed(1);
  const out = [
    "### How the ratchet tree reaches a joiner",
    "",
    "Decision: in the Welcome (the `ratchet_tree` extension), as today. The tree is the public part of",
    "the group (every leaf with its X-Wing keys, parent keys) and a joiner needs all of it. Fetching it",
    "separately would not save the joiner any bytes, only move them to another request, and the gateway",
    "has no copy: a member would have to upload the tree after every commit. The Welcome is almost",
    "entirely the tree:",
  ];
  if (x200) {
    out.push(
      `at 200 members with X-Wing it is ${kb(x200.welcomeBytes)}, of which the tree is ${kb(x200.treeBytes)}; without the tree ${kb(x200.welcomeNoTreeBytes)}.`,
    );
  }
  out.push(
    "It goes once to each joiner and stays below the gateway's default payload limit of 1 MiB",
    "(`QPQ_MAX_PAYLOAD_BYTES`); commits, which go to every member, are where X-Wing's size is felt.",
    "",
    "### Compared with OpenMLS",
    "",
    "OpenMLS publishes commit times of about 0.3 ms (X25519) and 0.5 ms (X-Wing) for small groups and",
    "about 40 ms at 200 members.",
  );
  if (x10 && c10) {
    out.push(
      `Here a self-update at 10 members takes ${ms(c10.commitCreateMs)} ms (X25519) and ${ms(x10.commitCreateMs)} ms (X-Wing) to create.`,
    );
  }
  if (x200) {
    out.push(
      `At 200 members with X-Wing it takes ${ms(x200.commitCreateMs)} ms to create and ${ms(x200.commitProcessMs)} ms to process (${ratio(x200.commitCreateMs, 40)} × OpenMLS's figure).`,
    );
  }
  const before = (suite: string, n: number) =>
    providerRows.find((r) => r.suite === suite && r.members === n && r.provider === WEBCRYPTO);
  const after = (suite: string, n: number) =>
    providerRows.find((r) => r.suite === suite && r.members === n && r.provider === OURS);
  const cb = before(CLASSICAL_SUITE, 50);
  const ca = after(CLASSICAL_SUITE, 50);
  const xb = before(DEFAULT_SUITE, 50);
  const xa = after(DEFAULT_SUITE, 50);
  out.push(
    "Where the gap was: a CPU profile of a 10-member X25519 self-update (`node --cpu-prof`) was dominated",
    "by WebCrypto overhead, not by curve or lattice arithmetic: ts-mls's default provider runs every",
    "hash, HMAC, HKDF step and message AEAD through `crypto.subtle`, importing a key object for each call",
    "and awaiting the thread pool each time. Those steps now run synchronously in JavaScript (see",
    "Crypto provider above).",
  );
  if (cb && ca && xb && xa) {
    out.push(
      `At 50 members that took X25519 self-update processing from ${ms(cb.commitProcessMs)} to ${ms(ca.commitProcessMs)} ms and creation from ${ms(cb.commitCreateMs)} to ${ms(ca.commitCreateMs)} ms;`,
      `X-Wing processing from ${ms(xb.commitProcessMs)} to ${ms(xa.commitProcessMs)} ms (creation ${ms(xb.commitCreateMs)} and ${ms(xa.commitCreateMs)} ms), and a 1 KiB message from ${ms(xb.encryptMs)} / ${ms(xb.decryptMs)} to ${ms(xa.encryptMs)} / ${ms(xa.decryptMs)} ms (encrypt / decrypt).`,
    );
  }
  out.push(
    "Where the gap is now, from CPU profiles of 50-member runs with our provider (group setup included):",
    "X-Wing commit creation is bound by the KEM, one encapsulation per update-path recipient; the X25519 half",
    "of each runs in a generic BigInt Montgomery ladder (@hpke/common, used by @hpke/hybridkem-x-wing):",
    "about a third of the samples, ahead of ML-KEM's Keccak. The provider does not touch that. For X25519 the rest is the WebCrypto calls that remain (HPKE in @hpke/core:",
    "X25519, its own HKDF and AES-GCM; Ed25519 with a PKCS#8 key import per signature), ts-mls's TLS",
    "encoding and copying, and garbage collection. OpenMLS does all of it synchronously in native code.",
    "Then come the fresh-tree worst case (n - 1 HPKE encryptions per update path) and the shared 2-core",
    "machine.",
  );
  if (x200 && c200) {
    out.push(
      `X-Wing against X25519 at 200 members: ${ratio(x200.commitCreateMs, c200.commitCreateMs)} × the creation time and ${ratio(x200.commitBytes, c200.commitBytes)} × the commit size, from one ML-KEM-768 encapsulation and one 1,120-byte ciphertext per copath node.`,
    );
  }
  out.push(
    "Levers, not yet tried: a faster X25519 inside the X-Wing KEM; HPKE's HKDF and AES-GCM in JavaScript",
    "(@hpke/core takes its KDF and AEAD as objects); Ed25519 in JavaScript (identities store WebCrypto's",
    "PKCS#8 signing keys, and whether JavaScript verification beats native verification plus a key import",
    "is unmeasured); and a tree filled by members' own commits (update paths shrink to about log2(n)",
    "ciphertexts).",
    "",
  );
  return out
    .join("\n")
    .replace(/\n(### [^\n]+)\n/g, "\n$1\n\n")
    .replace(/\n\n\n/g, "\n\n");
}

await main();
