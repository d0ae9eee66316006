// The approvals page refreshes itself: every few seconds it asks /ui/fragment for the pending plans and the
// recent runs and decisions. Tables are replaced; plan cards already shown are kept as they are (so a reason
// being typed is never lost), new plans are added on top and decided ones removed. The HTML comes from the
// server's autoescaped templates and is parsed inertly (DOMParser); the page's CSP forbids inline scripts.
"use strict";

(() => {
  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  const url = live.dataset.refreshUrl;
  const loginUrl = live.dataset.loginUrl;
  const every = Math.max(1, Number(live.dataset.refreshSeconds) || 5) * 1000;
  const parser = new DOMParser();

  const rows = (html) => {
    const doc = parser.parseFromString(`<table><tbody>${html}</tbody></table>`, "text/html");
    return Array.from(doc.querySelector("tbody").children);
  };

  const card = (html) => parser.parseFromString(html, "text/html").body.firstElementChild;

  const updatePlans = (plans) => {
    const box = document.getElementById("plans");
    const wanted = new Set(plans.map((p) => p.id));
    const shown = new Map();
    for (const node of Array.from(box.children)) {
      if (!wanted.has(node.dataset.planId)) {
        node.remove();
      } else {
        shown.set(node.dataset.planId, node);
      }
    }
    const top = box.firstElementChild;
    for (const plan of plans) {
      if (!shown.has(plan.id)) {
        const node = card(plan.html);
        if (node) {
          box.insertBefore(node, top);
        }
      }
    }
    document.getElementById("pending-count").textContent = String(plans.length);
    document.getElementById("no-plans").hidden = plans.length > 0;
  };

  const say = (text) => {
    document.getElementById("updated").textContent = text;
  };

  const refresh = async () => {
    let response;
    try {
      response = await fetch(url, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      say(`(refresh failed: ${error.message})`);
      return;
    }
    if (response.status === 401) {
      window.location.assign(loginUrl);
      return;
    }
    if (!response.ok) {
      say(`(refresh failed: HTTP ${response.status})`);
      return;
    }
    const data = await response.json();
    updatePlans(data.plans);
    document.getElementById("runs").replaceChildren(...rows(data.runs));
    document.getElementById("decided").replaceChildren(...rows(data.decided));
    say(data.now);
  };

  window.setInterval(refresh, every);
})();
