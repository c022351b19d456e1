/** whoami: its own module so that answering it loads no MLS, OPAQUE or QUIC code. */
import type { Context } from "../context.ts";
import { CliError, ExitCode } from "../exitCodes.ts";

/** Answers from the saved session, without the gateway: who would the next command act as. */
export async function whoami(ctx: Context): Promise<void> {
  const saved = await ctx.state.readSession();
  if (!saved) throw new CliError(ExitCode.NoSession, "not logged in: run `qpq login`");
  ctx.result(`${saved.username} at ${saved.gateway}`, {
    username: saved.username,
    gateway: saved.gateway,
    state: ctx.state.path,
  });
}
