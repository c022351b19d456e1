import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  CLASSICAL_SUITE,
  addMembers,
  commit,
  createGroup,
  createIdentity,
  decodeKeyPackage,
  encryptApplication,
  generateKeyPackage,
  suiteImpl,
} from "@qpq/shared/mls";
import { FramingError, parseMlsFraming, WireFormat } from "./mlsFraming.ts";

describe("MLS framing parser", () => {
  it("reads group id, epoch and content type of real commits, application messages and Welcomes", async () => {
    const impl = await suiteImpl(CLASSICAL_SUITE);
    const alice = await createIdentity("alice", impl);
    const bob = await createIdentity("bob", impl);
    let state = await createGroup(alice, impl);
    const groupId = state.groupContext.groupId;

    const added = await addMembers(state, impl, [
      decodeKeyPackage((await generateKeyPackage(bob, impl)).encoded),
    ]);
    const addCommit = parseMlsFraming(added.commit);
    expect(addCommit).toMatchObject({ kind: "group", groupId, epoch: 0, contentType: "commit" });
    expect(parseMlsFraming(added.welcome!)).toEqual({ kind: "welcome" });
    state = added.state;

    const app = await encryptApplication(state, impl, new TextEncoder().encode("hi"));
    expect(parseMlsFraming(app.message)).toEqual({
      kind: "group",
      wireFormat: WireFormat.privateMessage,
      groupId,
      epoch: 1,
      contentType: "application",
    });

    const empty = await commit(app.state, impl);
    expect(parseMlsFraming(empty.commit)).toMatchObject({ kind: "group", epoch: 1, contentType: "commit" });
    const later = await encryptApplication(empty.state, impl, new Uint8Array(3000));
    expect(parseMlsFraming(later.message)).toMatchObject({ epoch: 2, contentType: "application" });
  });

  it("reads a PublicMessage header, skipping the sender and authenticated data", () => {
    // version 1, wire format 1, group_id<V> (3 bytes), epoch 2^40, sender member #7,
    // authenticated_data<V> of 70 bytes (a two-byte varint length), content type proposal.
    const bytes = new Uint8Array([
      0,
      1,
      0,
      1,
      3,
      0xaa,
      0xbb,
      0xcc,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      7,
      0x40,
      70,
      ...new Uint8Array(70),
      2,
    ]);
    expect(parseMlsFraming(bytes)).toEqual({
      kind: "group",
      wireFormat: WireFormat.publicMessage,
      groupId: new Uint8Array([0xaa, 0xbb, 0xcc]),
      epoch: 2 ** 40,
      contentType: "proposal",
    });
  });

  it("names GroupInfo, KeyPackage and later wire formats as other", () => {
    expect(parseMlsFraming(new Uint8Array([0, 1, 0, 5]))).toEqual({ kind: "other", wireFormat: 5 });
    expect(parseMlsFraming(new Uint8Array([0, 1, 0xf0, 0]))).toEqual({ kind: "other", wireFormat: 0xf000 });
  });

  it.each([
    ["empty", []],
    ["truncated version", [0]],
    ["MLS version 2", [0, 2, 0, 2]],
    ["reserved wire format", [0, 1, 0, 0]],
    ["truncated group id", [0, 1, 0, 2, 5, 1, 2]],
    ["varint prefix 11", [0, 1, 0, 2, 0xc0, 0, 0, 0]],
    ["non-minimal varint", [0, 1, 0, 2, 0x40, 3, 1, 2, 3]],
    ["truncated epoch", [0, 1, 0, 2, 1, 9, 0, 0, 0]],
    ["epoch beyond 2^53", [0, 1, 0, 2, 1, 9, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]],
    ["unknown content type", [0, 1, 0, 2, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 4]],
    ["missing content type", [0, 1, 0, 2, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0]],
    ["unknown sender type", [0, 1, 0, 1, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0, 9]],
  ])("refuses %s", (_name, bytes) => {
    expect(() => parseMlsFraming(new Uint8Array(bytes))).toThrow(FramingError);
  });

  it("never throws anything but FramingError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          parseMlsFraming(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(FramingError);
        }
      }),
      { seed: 0x4d4c53, numRuns: 2000 },
    );
  });
});
