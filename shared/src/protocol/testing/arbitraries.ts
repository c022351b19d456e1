/**
 * fast-check arbitraries for any struct of the schema, derived from the generated layout table: a new
 * field or operation is fuzzed without touching a test. Values stay small (short Data, few list items).
 */
import fc from "fast-check";
import { enumValues, layout } from "../generated/codec.ts";
import type { ClientFrame, Envelope, Request } from "../messages.ts";

type FieldType =
  | { readonly kind: "void" | "bool" | "uint8" | "uint16" | "uint32" | "uint64" | "text" | "data" }
  | { readonly kind: "list"; readonly element: FieldType }
  | { readonly kind: "enum" | "struct" | "group"; readonly name: string };
interface FieldRow {
  readonly name: string;
  readonly type: FieldType;
  readonly discriminant?: number;
}

const table = layout as unknown as Record<
  string,
  { fields: readonly FieldRow[]; members: readonly FieldRow[] }
>;

function valueOf(type: FieldType, optional: boolean): fc.Arbitrary<unknown> {
  switch (type.kind) {
    case "bool":
      return fc.boolean();
    case "uint8":
      return fc.integer({ min: 0, max: 0xff });
    case "uint16":
      return fc.integer({ min: 0, max: 0xffff });
    case "uint32":
      return fc.integer({ min: 0, max: 0xffff_ffff });
    case "uint64":
      return fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    case "text":
      return fc.string({ unit: "grapheme", maxLength: 20 });
    case "data":
      return fc.uint8Array({ maxLength: 64 });
    case "enum":
      return fc.constantFrom(...(enumValues as Record<string, readonly string[]>)[type.name]!);
    case "struct":
      return optional ? fc.option(structOf(type.name), { nil: undefined }) : structOf(type.name);
    case "group":
      return structOf(type.name);
    case "list":
      return fc.array(valueOf(type.element, false), { maxLength: 4 });
    default:
      throw new Error(`no arbitrary for ${type.kind}`);
  }
}

const cache = new Map<string, fc.Arbitrary<unknown>>();

/** Any value of the struct `name` (a union struct: any of its members). */
export function structOf(name: string): fc.Arbitrary<unknown> {
  const cached = cache.get(name);
  if (cached) return cached;
  const row = table[name];
  if (!row) throw new Error(`no layout for ${name}`);
  const fixed = Object.fromEntries(row.fields.map((f) => [f.name, valueOf(f.type, true)]));
  const arbitrary =
    row.members.length === 0
      ? fc.record(fixed)
      : fc.oneof(
          ...row.members.map((m) =>
            fc.record({
              ...fixed,
              type: fc.constant(m.name),
              ...(m.type.kind === "void" ? {} : { [m.name]: valueOf(m.type, false) }),
            }),
          ),
        );
  cache.set(name, arbitrary);
  return arbitrary;
}

export const arbitraryRequest = structOf("ClientFrameRequest") as fc.Arbitrary<Request>;
export const arbitraryClientFrame = structOf("ClientFrame") as fc.Arbitrary<ClientFrame>;
export const arbitraryEnvelope = structOf("Envelope") as fc.Arbitrary<Envelope>;
