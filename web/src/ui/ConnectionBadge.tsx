import { useApp } from "../app/store.ts";

const LABELS = {
  online: "Online",
  connecting: "Connecting…",
  offline: "Offline — reconnecting",
  expired: "Session ended",
  stopped: "Offline",
} as const;

export function ConnectionBadge() {
  const status = useApp((s) => s.connection);
  const detail = useApp((s) => s.connectionDetail);
  return (
    <p role="status" aria-label="Connection" className={`badge badge-${status}`} title={detail}>
      {LABELS[status]}
    </p>
  );
}
