"use strict";
// Live regions: an element with data-live="URL" re-fetches that server-rendered fragment
// every data-every milliseconds and swaps it in when it changed. The server escapes the
// fragment exactly as it does the page, so this is the same HTML the page would show.
(function () {
  const regions = document.querySelectorAll("[data-live]");
  regions.forEach((el) => {
    const every = parseInt(el.dataset.every || "4000", 10);
    let last = null;
    let busy = false;
    async function refresh() {
      if (document.hidden || busy || el.contains(document.activeElement)) return;
      busy = true;
      try {
        const resp = await fetch(el.dataset.live, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
        if (resp.ok) {
          const html = await resp.text();
          if (html !== last) el.innerHTML = html;
          last = html;
          el.dataset.refreshed = String(Date.now());
        }
      } catch (e) {
        // offline or restarting: the next tick retries
      } finally {
        busy = false;
      }
    }
    refresh();
    setInterval(refresh, every);
  });
})();
