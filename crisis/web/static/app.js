"use strict";
// Live regions: an element with data-live="URL" re-fetches that server-rendered fragment
// every data-every milliseconds and swaps it in when it changed. The server escapes the
// fragment exactly as it does the page, so this is the same HTML the page would show.
// A region whose form the user has started on (ticked a box, typed, chose an option) is
// left as it is until that form is sent: a swap would throw their input away, and the
// refresh right after the page loads used to untick a "resolve anyway" box under the click.
(function () {
  const regions = document.querySelectorAll("[data-live]");
  regions.forEach((el) => {
    const every = parseInt(el.dataset.every || "4000", 10);
    let last = null;
    let busy = false;
    let touched = false;
    el.addEventListener("input", () => { touched = true; });
    el.addEventListener("change", () => { touched = true; });
    const keep = () => touched || el.contains(document.activeElement);
    async function refresh() {
      if (document.hidden || busy || keep()) return;
      busy = true;
      try {
        const resp = await fetch(el.dataset.live, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
        if (resp.ok) {
          const html = await resp.text();
          if (keep()) return; // the user started on it while the fetch was out
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
