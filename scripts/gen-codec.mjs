// Emits shared/src/protocol/generated/codec.ts from schemas/node.capnp: the TypeScript type of every
// struct, a layout table, and straight-line encoders and decoders over wire.ts. The layout (data words,
// pointer counts, field offsets, union discriminants) comes from the Cap'n Proto compiler itself
// (`capnp compile -o-` writes a CodeGeneratorRequest), so this emitter computes no offsets of its own.
//
// Mapping: Text -> string, Data -> Uint8Array, UInt8..UInt64 -> number (UInt64 checked against 2^53),
// Bool -> boolean, List(T) -> T[], enum -> string union, struct field -> optional (null pointer =
// undefined), group -> nested object, union -> { type: "member"; member: T } (Void: { type }).
//
// Usage: node scripts/gen-codec.mjs --out FILE [--roots A,B] (called by scripts/gen-schema.mjs).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { Message } from "capnp-es";
import { CodeGeneratorRequest, Field, Node, Type } from "capnp-es/capnp/schema";

const NO_DISCRIMINANT = 0xffff;

/** Reads the compiler's view of `schemaFile` into a plain model: structs (and groups) and enums. */
export function loadSchema(schemaFile, cwd) {
  const bytes = execFileSync("capnp", ["compile", "-o-", schemaFile], { cwd, maxBuffer: 64 << 20 });
  const request = new Message(bytes, false).getRoot(CodeGeneratorRequest);
  const byId = new Map();
  for (const node of request.nodes) byId.set(node.id, node);
  const nameOf = (id) => {
    const node = byId.get(id);
    if (!node) throw new Error(`unknown node ${id}`);
    const path = node.displayName.slice(node.displayName.indexOf(":") + 1).split(".");
    return path.map((p) => p[0].toUpperCase() + p.slice(1)).join("");
  };
  const typeOf = (type) => {
    switch (type.which()) {
      case Type.VOID:
        return { kind: "void" };
      case Type.BOOL:
        return { kind: "bool" };
      case Type.UINT8:
        return { kind: "uint8" };
      case Type.UINT16:
        return { kind: "uint16" };
      case Type.UINT32:
        return { kind: "uint32" };
      case Type.UINT64:
        return { kind: "uint64" };
      case Type.TEXT:
        return { kind: "text" };
      case Type.DATA:
        return { kind: "data" };
      case Type.LIST:
        return { kind: "list", element: typeOf(type.list.elementType) };
      case Type.ENUM:
        return { kind: "enum", name: nameOf(type.enum.typeId) };
      case Type.STRUCT:
        return { kind: "struct", name: nameOf(type.struct.typeId) };
      default:
        throw new Error(`type ${type.which()} is not supported by gen-codec (add it to the emitter)`);
    }
  };
  // Schema comments travel into the generated types, so editors show them where the fields are used.
  const docs = new Map();
  for (const info of request.sourceInfo) {
    docs.set(info.id, { doc: info.docComment, members: [...info.members].map((m) => m.docComment) });
  }
  const structs = new Map();
  const enums = new Map();
  for (const node of request.nodes) {
    if (node.which() === Node.ENUM) {
      enums.set(
        nameOf(node.id),
        [...node.enum.enumerants].map((e) => e.name),
      );
      continue;
    }
    if (node.which() !== Node.STRUCT) continue;
    const s = node.struct;
    const fields = [];
    const members = [];
    const info = docs.get(node.id);
    for (const [index, field] of [...s.fields].entries()) {
      const entry = { name: field.name, doc: info?.members[index] ?? "" };
      if (field.which() === Field.GROUP) {
        entry.type = { kind: "group", name: nameOf(field.group.typeId) };
      } else {
        if (field.slot.hadExplicitDefault)
          throw new Error(`${field.name}: explicit defaults are not supported`);
        entry.type = typeOf(field.slot.type);
        entry.offset = field.slot.offset;
      }
      if (field.discriminantValue === NO_DISCRIMINANT) fields.push(entry);
      else members.push({ ...entry, discriminant: field.discriminantValue });
    }
    structs.set(nameOf(node.id), {
      name: nameOf(node.id),
      displayName: node.displayName.slice(node.displayName.indexOf(":") + 1),
      isGroup: s.isGroup,
      doc: info?.doc ?? "",
      dataWords: s.dataWordCount,
      pointers: s.pointerCount,
      discriminantOffset: s.discriminantCount > 0 ? s.discriminantOffset : undefined,
      fields,
      members,
    });
  }
  return { structs, enums };
}

// ---------------------------------------------------------------------------------------------------
// Emission

const POINTER_KINDS = new Set(["text", "data", "list", "struct"]);
const INT_BYTES = { uint8: 1, uint16: 2, uint32: 4, uint64: 8 };

function tsType(t) {
  switch (t.kind) {
    case "bool":
      return "boolean";
    case "uint8":
    case "uint16":
    case "uint32":
    case "uint64":
      return "number";
    case "text":
      return "string";
    case "data":
      return "Uint8Array";
    case "list":
      return `${tsType(t.element)}[]`;
    case "enum":
    case "struct":
    case "group":
      return t.name;
    default:
      throw new Error(`no TypeScript type for ${t.kind}`);
  }
}

/** Absolute byte offset expression of pointer `index` in a struct whose data section starts at `s`. */
const ptrAt = (st, index) =>
  st.dataWords === 0 && index === 0 ? "s" : `s + ${st.dataWords * 8 + index * 8}`;

function pad(expr) {
  return `((${expr} + 7) & ~7)`;
}

export function emit({ structs, enums }, roots) {
  const out = [];
  const w = (line = "") => out.push(line);
  const ownerOf = (group) => {
    // A group shares its parent's sections; find the enclosing non-group struct for the sizes.
    let st = group;
    while (st.isGroup) {
      const parentPath = st.displayName.split(".").slice(0, -1).join(".");
      st = [...structs.values()].find((c) => c.displayName === parentPath);
    }
    return st;
  };
  const sections = (st) => (st.isGroup ? ownerOf(st) : st);

  w("// Generated by scripts/gen-codec.mjs from schemas/node.capnp. Do not edit: run `npm run gen:schema`.");
  w("/* eslint-disable */");
  w('import { ErrorCode } from "../errors.ts";');
  w('import { decodeWith, invalid, measureText, setDataList, u8, u16, u32, u64 } from "../codecCommon.ts";');
  w('import type { FrameLimits } from "../limits.ts";');
  w('import { WireBuilder, type StructRef, type WireReader } from "../wire.ts";');
  w();

  const docComment = (text, indent) => {
    const lines = text
      .trim()
      .split("\n")
      .map((l) => l.trim());
    if (lines.length === 1 && lines[0] === "") return;
    w(`${indent}/**`);
    for (const l of lines) w(`${indent} *${l ? " " + l.replaceAll("*/", "* /") : ""}`);
    w(`${indent} */`);
  };

  // Types -------------------------------------------------------------------------------------------
  for (const [name, values] of enums) {
    w(`export type ${name} = ${values.map((v) => JSON.stringify(v)).join(" | ")};`);
    w(`const ${name}Values: readonly ${name}[] = [${values.map((v) => JSON.stringify(v)).join(", ")}];`);
    w(
      `const ${name}Codes: { readonly [K in ${name}]: number } = { ${values.map((v, i) => `${v}: ${i}`).join(", ")} };`,
    );
    w();
  }
  for (const st of structs.values()) {
    const fixed = st.fields.map((f) => `${f.name}${f.type.kind === "struct" ? "?" : ""}: ${tsType(f.type)}`);
    docComment(st.doc, "");
    if (st.members.length === 0) {
      w(`export interface ${st.name} {`);
      for (const [i, f] of fixed.entries()) {
        docComment(st.fields[i].doc, "  ");
        w(`  ${f};`);
      }
      w("}");
    } else {
      w(`/** Members of ${st.displayName}'s union, by name (undefined: a Void member). */`);
      w(`export interface ${st.name}Members {`);
      for (const m of st.members) {
        docComment(m.doc, "  ");
        w(`  ${m.name}: ${m.type.kind === "void" ? "undefined" : tsType(m.type)};`);
      }
      w("}");
      const alternatives = st.members.map((m) =>
        m.type.kind === "void"
          ? `{ type: "${m.name}" }`
          : `{ type: "${m.name}"; ${m.name}: ${tsType(m.type)} }`,
      );
      const union = alternatives.map((a) => `  | ${a}`).join("\n");
      w(
        fixed.length === 0
          ? `export type ${st.name} =\n${union};`
          : `export type ${st.name} = { ${fixed.join("; ")} } & (\n${union}\n);`,
      );
    }
    w();
  }

  // Layout table --------------------------------------------------------------------------------------
  w(
    "/** Layout of every struct as the Cap'n Proto compiler assigned it (offsets in units of the field's size). */",
  );
  w("export const layout = {");
  for (const st of structs.values()) {
    const sec = sections(st);
    const fieldRow = ({ doc: _doc, ...f }) =>
      `{ name: "${f.name}", type: ${JSON.stringify(f.type)}${f.offset === undefined ? "" : `, offset: ${f.offset}`}${f.discriminant === undefined ? "" : `, discriminant: ${f.discriminant}`} }`;
    w(`  ${st.name}: {`);
    w(`    dataWords: ${sec.dataWords}, pointers: ${sec.pointers}, isGroup: ${st.isGroup},`);
    if (st.discriminantOffset !== undefined) w(`    discriminantOffset: ${st.discriminantOffset},`);
    w(`    fields: [${st.fields.map(fieldRow).join(", ")}],`);
    w(`    members: [${st.members.map(fieldRow).join(", ")}],`);
    w("  },");
  }
  w("} as const;");
  w();
  w("/** Every enum's values in code order. */");
  w(`export const enumValues = { ${[...enums.keys()].map((n) => `${n}: ${n}Values`).join(", ")} } as const;`);
  w();

  // Sizes ---------------------------------------------------------------------------------------------
  // Out-of-line bytes a value needs (its own sections excluded), so the builder allocates once.
  const sizeExpr = (t, v, optional = true) => {
    switch (t.kind) {
      case "text":
        return `measureText(${v})`;
      case "data":
        return pad(`${v}.byteLength`);
      case "struct": {
        const target = structs.get(t.name);
        const bytes = `${(target.dataWords + target.pointers) * 8} + size${t.name}(${v})`;
        return optional ? `(${v} === undefined ? 0 : ${bytes})` : bytes;
      }
      case "group":
        return `size${t.name}(${v})`;
      case "list": {
        const e = t.element;
        if (e.kind === "data") return `sizeDataList(${v})`;
        if (e.kind === "struct") {
          const target = structs.get(e.name);
          return `8 + ${v}.reduce((n, x) => n + ${(target.dataWords + target.pointers) * 8} + size${e.name}(x), 0)`;
        }
        throw new Error(`List(${e.kind}) is not supported`);
      }
      default:
        return "0";
    }
  };
  w("function sizeDataList(items: Uint8Array[]): number {");
  w("  let n = items.length * 8;");
  w("  for (const item of items) n += (item.byteLength + 7) & ~7;");
  w("  return n;");
  w("}");
  w();
  for (const st of structs.values()) {
    const parts = st.fields
      .filter((f) => POINTER_KINDS.has(f.type.kind) || f.type.kind === "group")
      .map((f) => sizeExpr(f.type, `v.${f.name}`));
    const hasUnionContent = st.members.some((m) => POINTER_KINDS.has(m.type.kind) || m.type.kind === "group");
    w(`function size${st.name}(${parts.length || hasUnionContent ? "v" : "_v"}: ${st.name}): number {`);
    if (hasUnionContent) {
      w("  let n = " + (parts.length ? parts.join(" + ") : "0") + ";");
      w("  switch (v.type) {");
      for (const m of st.members) {
        if (!POINTER_KINDS.has(m.type.kind) && m.type.kind !== "group") continue;
        w(`    case "${m.name}":`);
        w(`      n += ${sizeExpr(m.type, `v.${m.name}`, false)};`);
        w("      break;");
      }
      w("  }");
      w("  return n;");
    } else {
      w(`  return ${parts.length ? parts.join(" + ") : "0"};`);
    }
    w("}");
    w();
  }

  // Writers -------------------------------------------------------------------------------------------
  const label = (st, f) => `"${st.displayName}.${f.name}"`;
  const writeValue = (st, f, v, indent) => {
    const t = f.type;
    const sec = sections(st);
    const lines = [];
    const p = (l) => lines.push(indent + l);
    switch (t.kind) {
      case "void":
        break;
      case "bool":
        p(`b.setBit(s, ${f.offset}, ${v} === true);`);
        break;
      case "uint8":
      case "uint16":
      case "uint32":
      case "uint64": {
        const bytes = INT_BYTES[t.kind];
        const setter = { 1: "setU8", 2: "setU16", 4: "setU32", 8: "setU64" }[bytes];
        const check = { 1: "u8", 2: "u16", 4: "u32", 8: "u64" }[bytes];
        p(`b.${setter}(s + ${f.offset * bytes}, ${check}(${v}, ${label(st, f)}));`);
        break;
      }
      case "enum":
        p(`{`);
        p(`  const code = ${t.name}Codes[${v}];`);
        p(
          `  if (code === undefined) throw invalid(\`${st.displayName}.${f.name}: unknown value \${String(${v})}\`);`,
        );
        p(`  b.setU16(s + ${f.offset * 2}, code);`);
        p(`}`);
        break;
      case "text":
        p(`b.setText(${ptrAt(sec, f.offset)}, ${v});`);
        break;
      case "data":
        p(`b.setData(${ptrAt(sec, f.offset)}, ${v});`);
        break;
      case "struct": {
        const target = structs.get(t.name);
        const call = `write${t.name}(b, b.initStruct(${ptrAt(sec, f.offset)}, ${target.dataWords}, ${target.pointers}), ${v});`;
        if (f.discriminant === undefined) p(`if (${v} !== undefined) ${call}`);
        else p(call);
        break;
      }
      case "group":
        p(`write${t.name}(b, s, ${v});`);
        break;
      case "list": {
        const e = t.element;
        if (e.kind === "data") {
          p(`setDataList(b, ${ptrAt(sec, f.offset)}, ${v});`);
        } else if (e.kind === "struct") {
          const target = structs.get(e.name);
          const stride = (target.dataWords + target.pointers) * 8;
          p(`if (${v}.length > 0) {`);
          p(
            `  let at = b.initStructList(${ptrAt(sec, f.offset)}, ${v}.length, ${target.dataWords}, ${target.pointers});`,
          );
          p(`  for (const item of ${v}) {`);
          p(`    write${e.name}(b, at, item);`);
          p(`    at += ${stride};`);
          p(`  }`);
          p(`}`);
        } else {
          throw new Error(`List(${e.kind}) is not supported`);
        }
        break;
      }
      default:
        throw new Error(`cannot write ${t.kind}`);
    }
    return lines;
  };
  for (const st of structs.values()) {
    const used = st.fields.length > 0 || st.members.length > 0;
    w(
      `function write${st.name}(${used ? "b" : "_b"}: WireBuilder, ${used ? "s" : "_s"}: number, ${used ? "v" : "_v"}: ${st.name}): void {`,
    );
    for (const f of st.fields) out.push(...writeValue(st, f, `v.${f.name}`, "  "));
    if (st.members.length > 0) {
      w("  switch (v.type) {");
      for (const m of st.members) {
        w(`    case "${m.name}":`);
        w(`      b.setU16(s + ${st.discriminantOffset * 2}, ${m.discriminant});`);
        out.push(...writeValue(st, m, `v.${m.name}`, "      "));
        w("      break;");
      }
      w("    default:");
      w(
        `      throw invalid(\`${st.displayName}: unknown member \${String((v as { type: unknown }).type)}\`);`,
      );
      w("  }");
    }
    w("}");
    w();
  }

  // Readers -------------------------------------------------------------------------------------------
  const readValue = (st, f) => {
    const t = f.type;
    switch (t.kind) {
      case "bool":
        return `r.bit(s, ${f.offset})`;
      case "uint8":
        return `r.u8(s, ${f.offset})`;
      case "uint16":
        return `r.u16(s, ${f.offset * 2})`;
      case "uint32":
        return `r.u32(s, ${f.offset * 4})`;
      case "uint64":
        return `r.u64(s, ${f.offset * 8}, ${label(st, f)})`;
      case "enum":
        return `read${t.name}(r, r.u16(s, ${f.offset * 2}))`;
      case "text":
        return `r.text(s, ${f.offset})`;
      case "data":
        return `r.data(s, ${f.offset})`;
      case "struct":
        return f.discriminant === undefined
          ? `r.isNull(s, ${f.offset}) ? undefined : read${t.name}(r, r.struct(s, ${f.offset}))`
          : `read${t.name}(r, r.struct(s, ${f.offset}))`;
      case "group":
        return `read${t.name}(r, s)`;
      case "list": {
        const e = t.element;
        if (e.kind === "data") return `r.dataList(s, ${f.offset})`;
        if (e.kind === "struct") return `r.structList(s, ${f.offset}).map((item) => read${e.name}(r, item))`;
        throw new Error(`List(${e.kind}) is not supported`);
      }
      default:
        throw new Error(`cannot read ${t.kind}`);
    }
  };
  for (const [name] of enums) {
    w(`function read${name}(r: WireReader, code: number): ${name} {`);
    w(`  const value = ${name}Values[code];`);
    w(
      `  if (value === undefined) throw r.fail(\`unknown ${name} value \${code}\`, ErrorCode.InvalidArgument);`,
    );
    w("  return value;");
    w("}");
    w();
  }
  for (const st of structs.values()) {
    const used = st.fields.length > 0 || st.members.length > 0;
    w(
      `function read${st.name}(${used ? "r" : "_r"}: WireReader, ${used ? "s" : "_s"}: StructRef): ${st.name} {`,
    );
    // The request id first: a failure anywhere after it can then be answered to that very request.
    const requestId = st.fields.find((f) => f.name === "requestId" && f.type.kind === "uint32");
    if (requestId) {
      w(`  const requestId = ${readValue(st, requestId)};`);
      w("  r.requestId = requestId;");
    }
    const fixed = st.fields.map((f) => (f === requestId ? "requestId" : `${f.name}: ${readValue(st, f)}`));
    if (st.members.length === 0) {
      w(`  return { ${fixed.join(", ")} };`);
    } else {
      // The discriminant is checked before the member is touched: a newer peer's member may not even
      // be of a type this build could read.
      const which = `r.u16(s, ${st.discriminantOffset * 2})`;
      const wrap = (expr) => (fixed.length === 0 ? expr : `{ ${fixed.join(", ")}, ...${expr} }`);
      w(`  const which = ${which};`);
      w("  switch (which) {");
      for (const m of st.members) {
        w(`    case ${m.discriminant}:`);
        const alt =
          m.type.kind === "void"
            ? `{ type: "${m.name}" as const }`
            : `{ type: "${m.name}" as const, ${m.name}: ${readValue(st, m)} }`;
        w(`      return ${wrap(alt)};`);
      }
      w("    default:");
      w(`      throw r.fail(\`unknown ${st.displayName} member \${which}\`, ErrorCode.UnknownRequest);`);
      w("  }");
    }
    w("}");
    w();
  }

  // Roots ---------------------------------------------------------------------------------------------
  for (const root of roots) {
    const st = structs.get(root);
    if (!st) throw new Error(`root ${root} is not a struct of the schema`);
    const words = (st.dataWords + st.pointers) * 8;
    w(`/** Encodes a ${root} as an unpacked single-segment message (no length prefix: see frame.ts). */`);
    w(`export function encode${root}(value: ${root}): Uint8Array {`);
    w(`  const b = new WireBuilder(${16 + words} + size${root}(value));`);
    w(`  write${root}(b, b.initRoot(${st.dataWords}, ${st.pointers}), value);`);
    w("  return b.finish();");
    w("}");
    w();
    w(`/** Decodes a ${root} from untrusted bytes (guard first); throws DecodeError only. */`);
    w(`export function decode${root}(bytes: Uint8Array, limits?: Partial<FrameLimits>): ${root} {`);
    w(`  return decodeWith(bytes, limits, (r) => read${root}(r, r.root()));`);
    w("}");
    w();
  }
  return out.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const outFile = arg("--out");
  const schema = arg("--schema") ?? "schemas/node.capnp";
  const roots = (arg("--roots") ?? "ClientFrame,ServerFrame").split(",");
  if (!outFile) throw new Error("usage: gen-codec.mjs --out FILE [--schema FILE] [--roots A,B]");
  writeFileSync(outFile, emit(loadSchema(schema, process.cwd()), roots));
}
