// Following a job until it ends: the server's event stream, or polling when the stream fails.

import { api } from "./api.js";

export const TERMINAL = ["completed", "failed", "cancelled"];
const POLL_MILLISECONDS = 1000;

// Calls onUpdate(job) on every change until the job ends or `signal` aborts.
export function followJob(jobId, onUpdate, signal) {
  const stream = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/events`);
  let timer = null;
  const stop = () => {
    stream.close();
    clearTimeout(timer);
  };
  signal.addEventListener("abort", stop);
  stream.addEventListener("job", (event) => {
    const job = JSON.parse(event.data);
    if (TERMINAL.includes(job.status)) stop();
    onUpdate(job);
  });
  stream.addEventListener("error", () => {
    if (stream.readyState === EventSource.CLOSED || signal.aborted) return;
    stream.close(); // a proxy that buffers or drops streams: poll instead
    const poll = async () => {
      try {
        const job = await api(`/api/jobs/${encodeURIComponent(jobId)}`, { signal });
        onUpdate(job);
        if (TERMINAL.includes(job.status)) return;
      } catch (error) {
        if (error.name === "AbortError") return;
      }
      timer = setTimeout(poll, POLL_MILLISECONDS);
    };
    poll();
  });
}
