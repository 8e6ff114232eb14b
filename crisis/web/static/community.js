"use strict";
(function () {
  const root = document.getElementById("activity");
  if (!root) return;
  const colors = ["#2f6fdf", "#c0392b", "#27ae60", "#8e44ad", "#e67e22", "#16a085", "#7f8c8d"];
  const svgNS = "http://www.w3.org/2000/svg";

  function draw(data) {
    const svg = document.getElementById("chart");
    const legend = document.getElementById("legend");
    svg.replaceChildren();
    legend.replaceChildren();
    const names = Object.keys(data.series);
    let max = 1;
    names.forEach((n) => data.series[n].forEach((v) => { if (v > max) max = v; }));
    const width = 600, height = 200, steps = data.minutes.length - 1 || 1;
    names.forEach((name, i) => {
      const points = data.series[name].map((v, x) => `${(x / steps) * width},${height - (v / max) * (height - 10)}`);
      const line = document.createElementNS(svgNS, "polyline");
      line.setAttribute("points", points.join(" "));
      line.setAttribute("fill", "none");
      line.setAttribute("stroke", colors[i % colors.length]);
      line.setAttribute("stroke-width", "2");
      svg.appendChild(line);
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.setAttribute("data-color", String(i % colors.length));
      swatch.className = "swatch c" + (i % colors.length);
      item.append(swatch, document.createTextNode(name));
      legend.appendChild(item);
    });
    document.getElementById("total").textContent = String(data.total);
    document.getElementById("updated").textContent = new Date().toLocaleTimeString();
    const list = document.getElementById("incidents");
    if (data.incidents.length) {
      list.replaceChildren(...data.incidents.map((inc) => {
        const li = document.createElement("li");
        li.className = "sev-" + inc.severity;
        const strong = document.createElement("strong");
        strong.textContent = inc.severity;
        const status = document.createElement("span");
        status.className = "muted";
        status.textContent = " " + inc.status;
        const link = document.createElement("a");
        link.href = list.dataset.base + inc.id;
        link.append(strong, document.createTextNode(` ${inc.kind} · ${inc.title}`));
        li.append(link, status);
        return li;
      }));
    }
  }

  async function poll() {
    try {
      const resp = await fetch(root.dataset.url, { headers: { Accept: "application/json" } });
      if (resp.ok) draw(await resp.json());
    } catch (e) { /* the next poll retries */ }
    setTimeout(poll, 2000);
  }
  poll();
})();
