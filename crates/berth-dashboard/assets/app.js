// berth's dashboard: live status, logs and token-guarded actions. The pages
// are whole without it; this only keeps them current and sends actions.
"use strict";

// The token arrives in the URL's fragment, which no request carries, and is
// kept for this tab only; a fragment given to an open page counts too.
function keepToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("berth-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}
keepToken();
window.addEventListener("hashchange", keepToken);

// Every open stream, closed when the page is left: a page kept in the
// back-forward cache would otherwise hold its connection, and a browser opens
// only six to one host, after which the next page waits.
const streams = [];
function stream(url) {
  const source = new EventSource(url);
  streams.push(source);
  return source;
}
window.addEventListener("pagehide", () => streams.forEach((s) => s.close()));
window.addEventListener("pageshow", (event) => { if (event.persisted) location.reload(); });

function say(text, isError) {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = "shown" + (isError ? " error" : "");
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { box.className = ""; }, 8000);
}

// Sends an action; the answer is JSON lines, the last of which is the result.
async function act(path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = sessionStorage.getItem("berth-token");
  if (token) headers["X-Berth-Token"] = token;
  say("…", false);
  let answer;
  try {
    answer = await fetch(path, { method: "POST", headers, body: body || "" });
  } catch (e) {
    say("berth did not answer: " + e, true);
    return;
  }
  const lines = (await answer.text()).trim().split("\n").filter(Boolean);
  let last = {};
  try { last = JSON.parse(lines[lines.length - 1] || "{}"); } catch (e) { last = { message: lines.join("\n") }; }
  const failed = !answer.ok || last.reply === "error";
  let text = last.message || (last.reply === "deployed" ? "deployment " + (last.number || "") + ": " + last.outcome : "done");
  say(text, failed);
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
  act(button.dataset.action, button.dataset.body);
});

// A service's state over its instances: the worst one, else running.
function serviceState(instances) {
  const order = ["failed", "crash-loop", "exited", "restarting", "pending", "stopped", "completed", "running"];
  let state = null;
  for (const i of instances) {
    const s = i.state.split(/[ :(]/)[0];
    if (state === null || order.indexOf(s) < order.indexOf(state)) state = s;
  }
  return state || "pending";
}

// Whether a gate on `service` with `condition` holds, as the page can tell.
function gateHolds(instances, condition) {
  if (instances.length === 0) return false;
  if (condition === "completed") return instances.every((i) => i.state === "completed");
  if (condition === "started") return instances.some((i) => i.state === "running" || i.state === "completed");
  if (condition === "healthy") return instances.some((i) => i.ready);
  return null;
}

function showGraph(status) {
  const by = {};
  for (const i of status.instances || []) (by[i.service] = by[i.service] || []).push(i);
  document.querySelectorAll("[data-service]").forEach((node) => {
    const instances = by[node.dataset.service] || [];
    const state = instances.length ? serviceState(instances) : (status.reply === "down" ? "stopped" : "pending");
    node.setAttribute("class", node.dataset.base + " s-" + state);
    const text = node.querySelector(".node-state");
    if (text) text.textContent = state + (instances.length > 1 ? " ×" + instances.length : "");
    const waits = node.querySelector(".node-waits");
    if (waits) {
      const gates = JSON.parse(node.dataset.gates || "[]");
      const unmet = state === "pending" ? gates.filter(([dep, cond]) => gateHolds(by[dep] || [], cond) !== true) : [];
      waits.textContent = unmet.length ? "waits for " + unmet.map(([d, c]) => d + " " + c).join(", ") : "";
    }
  });
}

function bytes(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + " GiB";
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
  return Math.round(n / 1024) + " KiB";
}

// A row's cells as text, in the table's order.
function cells(i) {
  const use = i.use || {};
  return [
    i.instance,
    i.revision || "",
    i.state,
    i.ready ? "ready" : "—",
    String(i.restarts),
    i.pid ? String(i.pid) : "—",
    i.port ? String(i.port) : "—",
    i.uptime_seconds != null ? i.uptime_seconds + " s" : "—",
    use.cpu_percent != null ? use.cpu_percent.toFixed(1) + " %" : "—",
    use.rss_bytes ? bytes(use.rss_bytes) : "—",
  ];
}

function newRow(body, i) {
  const row = body.insertRow();
  row.dataset.instance = i.instance;
  cells(i).forEach((_, n) => { row.insertCell().className = n >= 4 ? "num" : ""; });
  const actions = row.insertCell();
  for (const verb of ["restart", "stop"]) {
    const button = document.createElement("button");
    button.textContent = verb;
    button.dataset.action = "/api/v1/services/" + encodeURIComponent(i.service) + "/" + verb;
    actions.append(button, " ");
  }
  return row;
}

// Rows are updated where they are, so a button stays under the pointer.
function showInstances(status) {
  const body = document.getElementById("instances");
  if (!body) return;
  const seen = new Set();
  for (const i of status.instances || []) {
    seen.add(i.instance);
    const row = [...body.rows].find((r) => r.dataset.instance === i.instance) || newRow(body, i);
    cells(i).forEach((text, n) => {
      const td = row.cells[n];
      if (td.textContent !== text) td.textContent = text;
    });
    row.cells[2].className = "state s-" + i.state.split(/[ :(]/)[0];
    row.dataset.uptime = i.uptime_seconds != null ? String(i.uptime_seconds) : "";
    row.dataset.at = String(Date.now());
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.instance)) row.remove();
}

// Uptimes go on between events, which come only when something else changes.
setInterval(() => {
  for (const row of document.querySelectorAll("#instances tr[data-uptime]")) {
    if (row.dataset.uptime === "") continue;
    const seconds = Number(row.dataset.uptime) + Math.floor((Date.now() - Number(row.dataset.at)) / 1000);
    row.cells[7].textContent = seconds + " s";
  }
}, 1000);

function showRollouts(status) {
  const box = document.getElementById("rollouts");
  if (!box) return;
  box.replaceChildren();
  const rollouts = status.rollouts || [];
  if (!rollouts.length) {
    box.textContent = status.reply === "down" ? "no berth is running here" : "no deployment is splitting traffic now";
    return;
  }
  for (const r of rollouts) {
    const title = document.createElement("h3");
    title.textContent = r.service;
    const bar = document.createElement("div");
    bar.className = "weights";
    bar.dataset.rollout = r.service;
    for (const [revision, weight] of r.weights) {
      const part = document.createElement("span");
      part.style.width = Math.max(weight, 4) + "%";
      part.textContent = revision + " " + weight + "%";
      bar.append(part);
    }
    box.append(title, bar);
    if (r.analysis) {
      const p = document.createElement("p");
      p.className = "evidence";
      p.textContent = r.analysis.what;
      box.append(p);
    }
  }
}

function showState(status) {
  const state = document.getElementById("berth-state");
  if (!state) return;
  const progress = status.progress ? status.progress.progress : "down";
  state.textContent = status.reply === "down" ? "not running" : progress;
  state.className = "state s-" + (status.reply === "down" ? "down" : progress);
}

if (document.body.dataset.live !== undefined) {
  const events = stream("/api/v1/events");
  events.addEventListener("status", (event) => {
    const status = JSON.parse(event.data);
    showState(status);
    showGraph(status);
    showInstances(status);
    showRollouts(status);
    document.body.dataset.updated = String(Date.now());
  });
}

// Logs: each event is a batch of lines; the newest 5,000 are kept.
(function followLogs() {
  const log = document.getElementById("log");
  if (!log) return;
  const search = document.getElementById("search");
  const shown = (line) => !search.value || line.textContent.toLowerCase().includes(search.value.toLowerCase());
  search.addEventListener("input", () => {
    for (const line of log.children) line.style.display = shown(line) ? "" : "none";
  });
  const events = stream("/api/logs" + location.search);
  events.addEventListener("lines", (event) => {
    const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    const fragment = document.createDocumentFragment();
    for (const l of JSON.parse(event.data)) {
      const line = document.createElement("div");
      const who = document.createElement("span");
      who.className = "instance";
      who.textContent = l.instance + " | ";
      line.append(who, l.text);
      line.style.display = shown(line) ? "" : "none";
      fragment.append(line);
    }
    log.append(fragment);
    while (log.children.length > 5000) log.firstChild.remove();
    if (atEnd) log.scrollTop = log.scrollHeight;
  });
})();

// While a deployment runs, its steps, analysis and the history are fetched
// again every two seconds, until it has ended.
(function followDeployment() {
  const running = document.getElementById("running");
  if (!running || running.dataset.deploying === undefined) return;
  const timer = setInterval(async () => {
    let page;
    try {
      page = new DOMParser().parseFromString(await (await fetch(location.pathname)).text(), "text/html");
    } catch (e) {
      return;
    }
    for (const id of ["running", "history"]) {
      const fresh = page.getElementById(id);
      if (fresh) document.getElementById(id).replaceWith(fresh);
    }
    if (page.getElementById("running").dataset.deploying === undefined) clearInterval(timer);
  }, 2000);
})();
