/**
 * Text from other people (messages, group names, usernames in credentials) reaches the terminal. Raw,
 * it could carry escape sequences that rewrite the screen, set the window title or worse, a newline
 * that forges a line looking like another sender's message, or bidirectional overrides that display
 * text in a different order than it reads. Human output shows such characters as visible escapes;
 * JSON output needs none of this (JSON.stringify escapes control characters, and programs read it).
 */

// C0 controls, DEL, C1 controls, the Unicode bidi embedding/override/isolate characters, and the
// invisible ones (soft hyphen, zero-width space/joiners, word joiner and invisible operators, BOM,
// Mongolian vowel separator): printed raw, "bo\u200bb" reads as "bob" and hides that it is not.
const UNSAFE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (char) => {
    if (char === "\n") return "\\n";
    if (char === "\t") return " ";
    return `\\u{${char.codePointAt(0)!.toString(16)}}`;
  });
}
