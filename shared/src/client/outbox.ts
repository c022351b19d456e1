/**
 * Our own text messages on their way out. Each is stored before it is sent, so none is lost when the
 * connection is: "queued" means the gateway could not be reached (not connected, or the connection
 * died during the upload) and the message goes out by itself after the next reconnect; "failed"
 * means the gateway refused it, and it is tried again on retry() or the next reconnect.
 *
 * A resend may repeat an upload the gateway had accepted just before the connection died. It goes
 * under the same message id, and recipients keep one record per sender and id, so nobody sees it
 * twice.
 */
import { ErrorCode, QpqError } from "../protocol/index.ts";
import type { ClientSession } from "./session.ts";
import type { MessageRecord } from "./storage.ts";

export class Outbox {
  /** Messages being uploaded now: a flush must not send them a second time alongside. */
  private readonly inFlight = new Set<string>();
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly session: ClientSession,
    /** Encrypts and uploads one message's content (the caller's broadcast). */
    private readonly upload: (message: MessageRecord) => Promise<void>,
  ) {}

  /** Stores the message, then sends it if connected; resolves with its new state. */
  async deliver(message: MessageRecord): Promise<MessageRecord> {
    const key = keyOf(message);
    this.inFlight.add(key);
    try {
      await this.session.store.putMessage(message);
      this.session.emit("message", message);
      const outcome = { ...message };
      if (!this.session.connected) {
        outcome.status = "queued";
      } else {
        try {
          await this.upload(message);
          outcome.status = "sent";
        } catch (error) {
          outcome.status = transient(error) ? "queued" : "failed";
          this.session.emit("error", error);
        }
      }
      await this.session.store.putMessage(outcome);
      this.session.emit("message", outcome);
      return outcome;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** Sends one unsent message of ours again, under the same id so recipients keep one copy. */
  async retry(groupId: string, messageId: string, me: string): Promise<MessageRecord> {
    const message = await this.session.store.getMessage(groupId, messageId);
    if (!message || message.sender !== me || !unsent(message) || this.inFlight.has(keyOf(message))) {
      throw new QpqError(ErrorCode.InvalidArgument, "no unsent message with that id");
    }
    return this.deliver({ ...message, status: "sending" });
  }

  /**
   * Re-sends what is left (queued, failed, or interrupted while sending), oldest first per
   * conversation. Runs one pass at a time: a reconnect during a pass adds a pass after it.
   */
  flush(me: string): Promise<void> {
    const pass = this.flushing.then(() => this.flushOnce(me));
    this.flushing = pass.catch(() => undefined);
    return pass;
  }

  /** Resolves once the flush passes started so far are done (a one-shot client waits before closing). */
  idle(): Promise<void> {
    return this.flushing;
  }

  private async flushOnce(me: string): Promise<void> {
    for (const group of await this.session.store.listGroups()) {
      for (const message of await this.session.store.listMessages(group.id)) {
        if (message.sender !== me || !unsent(message) || this.inFlight.has(keyOf(message))) continue;
        // Left for the next reconnect, which flushes again.
        if (!this.session.connected) return;
        await this.deliver({ ...message, status: "sending" });
      }
    }
  }
}

function unsent(message: MessageRecord): boolean {
  return message.status === "queued" || message.status === "failed" || message.status === "sending";
}

function keyOf(message: MessageRecord): string {
  return `${message.groupId}/${message.id}`;
}

/** The connection's fault rather than the gateway's answer: worth resending without asking. */
function transient(error: unknown): boolean {
  if (error instanceof QpqError) return error.code === ErrorCode.Unavailable;
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === "TimeoutError";
}
