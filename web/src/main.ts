export {};
// Placeholder until the web messenger lands: shows whether the gateway's discovery document answers.
const statusLine = document.getElementById("status");
fetch("/.well-known/qpq.json")
  .then((r) => r.json())
  .then((doc: { webtransport?: string }) => {
    if (statusLine) statusLine.textContent = `Gateway reachable at ${doc.webtransport ?? "?"}.`;
  })
  .catch(() => {
    if (statusLine) statusLine.textContent = "Gateway unreachable.";
  });
