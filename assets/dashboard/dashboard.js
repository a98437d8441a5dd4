// goalgraph dashboard: an objective tree with rolled-up progress, expanded on demand, with
// key results and notes on the side, kept live by the progressChanged subscription. It uses
// only the public GraphQL API (POST /graphql and graphql-ws at /graphql/ws).
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "goalgraph.token";

const state = {
  token: null,
  client: null,
  connected: false,
  unsubscribe: null,
  refused: false,
  subscribedTo: null,
  openObjective: null,
  treeTicket: 0,
};

// ---- API -----------------------------------------------------------------------------------

async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${state.token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    const error = new Error(body.errors[0].message);
    error.code = body.errors[0].extensions && body.errors[0].extensions.code;
    throw error;
  }
  return body.data;
}

const NODE_FIELDS = "id title status progress children { id }";

// ---- rendering -----------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

const percent = (progress) => `${Math.round(progress * 100)}%`;
const statusLabel = (status) => status.toLowerCase().replace("_", " ");

function bar(progress) {
  const fill = el("div", { class: "fill" });
  fill.style.width = percent(progress);
  return el("div", { class: "bar", role: "progressbar", "aria-valuenow": Math.round(progress * 100) }, fill);
}

function treeNode(objective) {
  const hasChildren = objective.children.length > 0;
  const toggle = el("button", {
    class: "toggle",
    "aria-label": `Expand ${objective.title}`,
    "aria-expanded": "false",
    onclick: () => toggleNode(item),
  }, "▸");
  toggle.hidden = !hasChildren;
  const row = el("div", { class: "row" },
    toggle,
    el("span", { class: "title", onclick: () => openDetails(objective.id) }, objective.title),
    el("span", { class: `status ${objective.status}` }, statusLabel(objective.status)),
    bar(objective.progress),
    el("span", { class: "pct" }, percent(objective.progress)),
  );
  const children = el("ul", { class: "children", role: "group" });
  children.hidden = true;
  const item = el("li", { class: "node", role: "treeitem", "data-id": objective.id }, row, children);
  return item;
}

async function toggleNode(item) {
  const toggle = item.querySelector(":scope > .row > .toggle");
  const children = item.querySelector(":scope > .children");
  const expanding = toggle.getAttribute("aria-expanded") !== "true";
  if (expanding && !children.dataset.loaded) {
    const data = await gql(
      `query($id: ID!) { objective(id: $id) { children { ${NODE_FIELDS} } } }`,
      { id: item.dataset.id },
    );
    children.replaceChildren(...(data.objective ? data.objective.children : []).map(treeNode));
    children.dataset.loaded = "true";
  }
  children.hidden = !expanding;
  toggle.setAttribute("aria-expanded", String(expanding));
  toggle.textContent = expanding ? "▾" : "▸";
}

async function showTree(objectiveId) {
  // Selections can overlap (a cycle change reloads the objective list, which shows a tree,
  // while the user picks another): only the latest one may draw.
  const ticket = ++state.treeTicket;
  const tree = $("tree");
  $("details").hidden = true;
  if (!objectiveId) {
    tree.replaceChildren();
    return;
  }
  const data = await gql(`query($id: ID!) { objective(id: $id) { ${NODE_FIELDS} } }`, { id: objectiveId });
  if (ticket !== state.treeTicket) return;
  if (!data.objective) {
    tree.replaceChildren();
    return;
  }
  const root = treeNode(data.objective);
  tree.replaceChildren(root);
  if (data.objective.children.length) await toggleNode(root);
  if (ticket === state.treeTicket) subscribe(objectiveId);
}

async function openDetails(objectiveId) {
  state.openObjective = objectiveId;
  const data = await gql(
    `query($id: ID!) { objective(id: $id) {
       id title status progress owner { name } team { name }
       keyResults { id title kind progress currentValue targetValue }
       updatesConnection(first: 10) { nodes { body createdAt author { name } } }
     } }`,
    { id: objectiveId },
  );
  const o = data.objective;
  const aside = $("details");
  if (!o || state.openObjective !== objectiveId) return;
  const keyResults = o.keyResults.length
    ? o.keyResults.map((kr) => el("div", { class: "kr", "data-key-result": kr.id },
        el("div", {}, `${kr.title} — ${kr.currentValue ?? "no value yet"} / ${kr.targetValue} (${percent(kr.progress)})`),
        bar(kr.progress)))
    : [el("p", { class: "meta" }, "No key results.")];
  const notes = o.updatesConnection.nodes.length
    ? o.updatesConnection.nodes.map((note) => el("div", { class: "note" },
        el("small", {}, `${note.author ? note.author.name : "someone"} · ${new Date(note.createdAt).toLocaleString()}`),
        note.body))
    : [el("p", { class: "meta" }, "No notes yet.")];
  aside.replaceChildren(
    el("h2", {}, o.title),
    el("p", { class: "meta" }, `${statusLabel(o.status)} · ${percent(o.progress)}` +
      (o.owner ? ` · ${o.owner.name}` : "") + (o.team ? ` · ${o.team.name}` : "")),
    el("h3", {}, "Key results"), ...keyResults,
    el("h3", {}, "Notes"), ...notes,
  );
  aside.dataset.objective = o.id;
  aside.hidden = false;
}

// ---- live updates (graphql-ws's own client, vendored: /dashboard/graphql-ws.min.js) -------

// What the indicator shows: "live" once connected with a subscription the server has not
// refused, "reconnecting" while the connection is down, "refused" when the server refused
// the subscription (the message says why).
function setLive(mode, detail) {
  const live = $("live");
  live.className = `live ${mode === "live" ? "on" : "off"}`;
  live.textContent = {
    live: "● live",
    reconnecting: "connecting…",
    refused: `not live: ${detail || "refused"}`,
    offline: "offline",
  }[mode];
  live.title = detail || "";
}

// Close codes after which reconnecting cannot help: the token was refused or has expired
// (4403: a fresh token is needed), or the protocol was broken (4400, 4401, 4409, 4429).
const FATAL_CLOSES = new Set([4400, 4401, 4403, 4409, 4429]);
const isFatalClose = (event) => FATAL_CLOSES.has(event?.code);

function connect() {
  if (state.client) state.client.dispose();
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql/ws`;
  let connectedBefore = false;
  state.client = graphqlWs.createClient({
    url,
    connectionParams: () => ({ authorization: `Bearer ${state.token}` }),
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: (event) => !isFatalClose(event),
    // Exponential backoff with full jitter, capped at 30 s: tabs that lost the server together
    // do not all come back in the same instant.
    retryWait: (retries) => new Promise((resolve) => {
      setTimeout(resolve, Math.random() * Math.min(30000, 1000 * 2 ** retries));
    }),
    on: {
      connected: () => {
        state.connected = true;
        if (state.subscribedTo && !state.refused) setLive("live");
        // After a reconnection, re-read the tree: changes made while away were not sent.
        if (connectedBefore) refreshVisible();
        connectedBefore = true;
      },
      closed: (event) => {
        state.connected = false;
        if (isFatalClose(event)) setLive("refused", event.reason || `closed (${event.code})`);
        else setLive("reconnecting");
      },
    },
  });
}

function subscribe(objectiveId) {
  if (state.unsubscribe) state.unsubscribe();
  state.subscribedTo = objectiveId;
  state.refused = false;
  // The client re-sends the subscription after every reconnection by itself.
  state.unsubscribe = state.client.subscribe(
    {
      query: "subscription($under: ID!) { progressChanged(under: $under) { objective { id progress status } } }",
      variables: { under: objectiveId },
    },
    {
      next: (result) => {
        if (result.data) applyChange(result.data.progressChanged.objective);
      },
      error: (error) => {
        const refusal = Array.isArray(error) ? error.map((e) => e.message).join("; ") : null;
        if (refusal) {
          state.refused = true;
          setLive("refused", refusal);
        } else if (isFatalClose(error)) {
          setLive("refused", error.reason || `closed (${error.code})`);
        } else {
          setLive("reconnecting");
        }
      },
      complete: () => {},
    },
  );
  setLive(state.connected ? "live" : "reconnecting");
}

// An objective's new progress and status (from an event or a re-read) on every row showing it.
function applyChange(objective) {
  for (const item of document.querySelectorAll(`li.node[data-id="${CSS.escape(objective.id)}"]`)) {
    const row = item.querySelector(":scope > .row");
    row.querySelector(".fill").style.width = percent(objective.progress);
    row.querySelector(".bar").setAttribute("aria-valuenow", Math.round(objective.progress * 100));
    row.querySelector(".pct").textContent = percent(objective.progress);
    const status = row.querySelector(".status");
    status.className = `status ${objective.status}`;
    status.textContent = statusLabel(objective.status);
    row.classList.remove("flash");
    void row.offsetWidth; // restart the animation
    row.classList.add("flash");
  }
  if (state.openObjective === objective.id) {
    openDetails(objective.id);
    // A check-in's note reaches the notes store through the relay a moment after the
    // progress change: read the panel once more shortly after.
    clearTimeout(state.detailsTimer);
    state.detailsTimer = setTimeout(() => openDetails(objective.id), 1000);
  }
}

async function refreshVisible() {
  const ids = [...document.querySelectorAll("li.node")].map((item) => item.dataset.id);
  if (!ids.length) return;
  const data = await gql("query($ids: [ID!]!) { nodes(ids: $ids) { ... on Objective { id progress status } } }",
    { ids: ids.slice(0, 100) });
  for (const node of data.nodes) {
    if (node && node.id) applyChange(node);
  }
}

// ---- selection -----------------------------------------------------------------------------

async function loadObjectives() {
  const cycleId = $("cycle").value || null;
  const filter = cycleId ? { cycleId, rootsOnly: true } : { rootsOnly: true };
  const data = await gql(
    "query($filter: ObjectiveFilter) { objectives(filter: $filter, first: 100) { edges { node { id title } } } }",
    { filter },
  );
  const select = $("objective");
  const nodes = data.objectives.edges.map((edge) => edge.node);
  select.replaceChildren(...nodes.map((o) => el("option", { value: o.id }, o.title)));
  $("empty").hidden = nodes.length > 0;
  const wanted = new URLSearchParams(location.hash.slice(1)).get("objective");
  if (wanted && nodes.some((o) => o.id === wanted)) select.value = wanted;
  await showTree(select.value);
}

async function start() {
  $("login").hidden = true;
  $("board").hidden = false;
  const data = await gql("{ cycles { id name } }");
  $("cycle").replaceChildren(
    el("option", { value: "" }, "All cycles"),
    ...data.cycles.map((c) => el("option", { value: c.id }, c.name)),
  );
  connect();
  await loadObjectives();
}

function showError(error) {
  const box = $("error");
  box.textContent = error.code === "UNAUTHENTICATED"
    ? "That token was refused; paste a fresh one."
    : `Something went wrong: ${error.message}`;
  box.hidden = false;
  if (error.code === "UNAUTHENTICATED") {
    localStorage.removeItem(TOKEN_KEY);
    $("login").hidden = false;
    $("board").hidden = true;
  }
}

window.addEventListener("DOMContentLoaded", () => {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    // Keep the token out of the address bar and the history.
    const rest = new URLSearchParams(location.hash.slice(1));
    rest.delete("token");
    history.replaceState(null, "", `${location.pathname}${rest.toString() ? `#${rest}` : ""}`);
  }
  state.token = localStorage.getItem(TOKEN_KEY);
  $("cycle").addEventListener("change", () => loadObjectives().catch(showError));
  $("objective").addEventListener("change", () => showTree($("objective").value).catch(showError));
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim().replace(/^Bearer\s+/i, "");
    localStorage.setItem(TOKEN_KEY, state.token);
    $("error").hidden = true;
    start().catch(showError);
  });
  if (state.token) start().catch(showError);
  else $("login").hidden = false;
});
