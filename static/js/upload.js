// The wizard's resumable upload: a small tus 1.0 client.
// Chunks of a few MiB, each with its SHA-256 in Upload-Checksum where the browser
// can hash (secure contexts); network errors, 5xx and checksum mismatches are
// retried with backoff, resuming from the offset the server reports; the upload
// URL is kept in localStorage so a reloaded page finds its upload again.
(function () {
  "use strict";

  const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
  // Binary megabytes, as the pages' file sizes (Django's filesizeformat) count them.
  const MB = 1024 * 1024;
  const box = document.getElementById("uploader");
  if (!box) return;

  const CHUNK_BYTES = Number(box.dataset.chunkBytes) || 4 * 1024 * 1024;
  const input = box.querySelector("#file");
  const startButton = box.querySelector("#start");
  const cancelButton = box.querySelector("#cancel");
  const bar = box.querySelector(".bar");
  const progress = box.querySelector(".progress");
  const statusLine = box.querySelector(".upload-status");
  const errorLine = box.querySelector(".upload-error");
  const maxBytes = Number(box.dataset.maxBytes);
  let cancelled = false;
  let uploadUrl = null;
  let inFlight = null;

  class Fatal extends Error {}
  class Retry extends Error {}

  function storageKey(file) {
    return `tus:${box.dataset.dataset}:${file.name}:${file.size}:${file.lastModified}`;
  }

  // A page reloaded mid-upload: say which file to pick again to resume.
  function announceInterrupted() {
    const prefix = `tus:${box.dataset.dataset}:`;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key.startsWith(prefix)) continue;
      // name:size:lastModified, and a file name may hold colons itself.
      const parts = key.slice(prefix.length).split(":");
      parts.pop();
      const size = parts.pop();
      const name = parts.join(":");
      statusLine.textContent =
        `An upload of ${name} (${(Number(size) / MB).toFixed(1)} MB) was interrupted. ` +
        "Choose the same file to resume where it stopped.";
      return;
    }
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.hidden = false;
  }

  function tusHeaders(extra) {
    return Object.assign(
      { "Tus-Resumable": "1.0.0", "X-CSRFToken": box.dataset.csrf },
      extra || {}
    );
  }

  function b64(text) {
    return btoa(unescape(encodeURIComponent(text)));
  }

  async function messageOf(response) {
    try {
      const body = await response.json();
      return body.error.message;
    } catch (e) {
      return `The server answered ${response.status}.`;
    }
  }

  async function create(file) {
    const response = await fetch(box.dataset.endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: tusHeaders({
        "Upload-Length": String(file.size),
        "Upload-Metadata": `filename ${b64(file.name)},dataset ${b64(box.dataset.dataset)}`,
      }),
    });
    if (response.status >= 500) throw new Retry(`POST answered ${response.status}`);
    if (response.status !== 201) throw new Fatal(await messageOf(response));
    return response.headers.get("Location");
  }

  // The server's offset; null when the upload is gone (terminated or expired).
  async function serverOffset(url) {
    const response = await fetch(url, {
      method: "HEAD",
      credentials: "same-origin",
      headers: tusHeaders(),
      cache: "no-store",
    });
    if (response.status === 404 || response.status === 410) return null;
    if (!response.ok) throw new Retry(`HEAD answered ${response.status}`);
    return Number(response.headers.get("Upload-Offset"));
  }

  async function checksumOf(chunk) {
    if (!(window.crypto && crypto.subtle)) return null;
    const digest = await crypto.subtle.digest("SHA-256", await chunk.arrayBuffer());
    return "sha256 " + btoa(String.fromCharCode(...new Uint8Array(digest)));
  }

  async function sendChunk(url, file, offset) {
    const chunk = file.slice(offset, Math.min(offset + CHUNK_BYTES, file.size));
    const headers = {
      "Upload-Offset": String(offset),
      "Content-Type": "application/offset+octet-stream",
    };
    const checksum = await checksumOf(chunk);
    if (checksum) headers["Upload-Checksum"] = checksum;
    inFlight = new AbortController();
    const response = await fetch(url, {
      method: "PATCH",
      credentials: "same-origin",
      headers: tusHeaders(headers),
      body: chunk,
      signal: inFlight.signal,
    });
    if (response.status === 204) return Number(response.headers.get("Upload-Offset"));
    if (response.status === 409 && response.headers.get("Upload-Offset") !== null) {
      return serverOffset(url);
    }
    if (response.status === 404 || response.status === 410) return null;
    if (response.status >= 500 || response.status === 460 || response.status === 409) {
      throw new Retry(`PATCH answered ${response.status}`);
    }
    throw new Fatal(await messageOf(response));
  }

  function report(sent, total, startedAt, startOffset) {
    const percent = total ? Math.floor((100 * sent) / total) : 100;
    const seconds = (performance.now() - startedAt) / 1000;
    const rate = seconds > 0 ? (sent - startOffset) / seconds : 0;
    const eta = rate > 0 ? Math.round((total - sent) / rate) : null;
    bar.style.width = `${percent}%`;
    statusLine.textContent =
      `${percent}% · ${(sent / MB).toFixed(1)} of ${(total / MB).toFixed(1)} MB · ` +
      `${(rate / MB).toFixed(2)} MB/s` + (eta !== null ? ` · about ${eta} s left` : "");
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async function withRetries(step) {
    for (let failures = 0; ; failures += 1) {
      try {
        return await step();
      } catch (error) {
        if (error instanceof Fatal || cancelled) throw error;
        const delay = RETRY_DELAYS_MS[Math.min(failures, RETRY_DELAYS_MS.length - 1)];
        statusLine.textContent =
          `Connection problem (${error.message}); retrying in ${delay / 1000} s…`;
        await sleep(delay);
      }
    }
  }

  async function upload(file) {
    const key = storageKey(file);
    uploadUrl = localStorage.getItem(key);
    let offset = uploadUrl ? await withRetries(() => serverOffset(uploadUrl)) : null;
    if (offset === null) {
      uploadUrl = await withRetries(() => create(file));
      localStorage.setItem(key, uploadUrl);
      offset = 0;
    } else {
      statusLine.textContent = `Resuming at ${(offset / MB).toFixed(1)} MB.`;
      box.dataset.resumedAt = String(offset);
    }

    const startedAt = performance.now();
    const startOffset = offset;
    while (offset < file.size && !cancelled) {
      const at = offset;
      const next = await withRetries(async () => {
        try {
          return await sendChunk(uploadUrl, file, at);
        } catch (error) {
          // After a failure the server may hold more (or fewer) bytes than we think.
          if (error instanceof Retry || error instanceof TypeError) {
            const known = await serverOffset(uploadUrl).catch(() => at);
            if (known !== at) return known;
          }
          throw error;
        }
      });
      if (next === null) {
        localStorage.removeItem(key);
        throw new Fatal("The upload expired or was cancelled on the server; start again.");
      }
      offset = next;
      report(offset, file.size, startedAt, startOffset);
    }
    if (!cancelled) localStorage.removeItem(key);
  }

  input.addEventListener("change", () => {
    errorLine.hidden = true;
    const file = input.files[0];
    startButton.disabled = !file;
    if (file && file.size > maxBytes) {
      startButton.disabled = true;
      showError(
        `${file.name} is ${(file.size / MB).toFixed(1)} MB; the browser limit is ` +
          `${(maxBytes / MB).toFixed(0)} MB. Upload it with the API or the dpoctl client.`
      );
    }
  });

  startButton.addEventListener("click", async () => {
    const file = input.files[0];
    if (!file) return;
    cancelled = false;
    startButton.disabled = true;
    input.disabled = true;
    cancelButton.hidden = false;
    progress.hidden = false;
    errorLine.hidden = true;
    try {
      await upload(file);
      if (!cancelled) {
        statusLine.textContent = "Uploaded. Validating…";
        window.location.href = box.dataset.doneUrl;
      }
    } catch (error) {
      if (cancelled) return;
      showError(error.message);
      startButton.disabled = false;
      input.disabled = false;
      cancelButton.hidden = true;
    }
  });

  cancelButton.addEventListener("click", async () => {
    cancelled = true;
    cancelButton.hidden = true;
    if (inFlight) inFlight.abort();
    if (uploadUrl) {
      await fetch(uploadUrl, { method: "DELETE", credentials: "same-origin", headers: tusHeaders() });
      const file = input.files[0];
      if (file) localStorage.removeItem(storageKey(file));
    }
    statusLine.textContent = "Upload cancelled; nothing was kept.";
    bar.style.width = "0%";
    startButton.disabled = false;
    input.disabled = false;
  });
  announceInterrupted();
})();
