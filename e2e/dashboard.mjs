// End-to-end check of the dashboard in headless Chromium: load the page with a token, pick the
// objective, expand a branch, open an objective's key results and notes, check in through the
// API, and wait for the bars (the objective's and its ancestors') to move via the
// subscription. Prints a JSON summary; exits non-zero on any failure.
//
// Environment: GOALGRAPH_URL, GOALGRAPH_TOKEN, CYCLE_ID, ROOT_ID, BRANCH_ID, LEAF_ID, LEAF_TITLE,
// KEY_RESULT_ID, SCREENSHOT (a PNG path), CHROMIUM (default /usr/bin/chromium).
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env("GOALGRAPH_URL");
const token = env("GOALGRAPH_TOKEN");
const cycleId = env("CYCLE_ID");
const rootId = env("ROOT_ID");
const branchId = env("BRANCH_ID");
const leafId = env("LEAF_ID");
const leafTitle = env("LEAF_TITLE");
const keyResultId = env("KEY_RESULT_ID");
const screenshot = env("SCREENSHOT");

const node = (id) => `li.node[data-id="${id}"]`;
const row = (id) => `${node(id)} > .row`;

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 420 } });
  const failures = [];
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") failures.push(`console: ${message.text()}`);
  });

  await page.goto(`${base}/#token=${encodeURIComponent(token)}`);
  if (page.url().includes("token=")) throw new Error("the token stayed in the address bar");
  // Choose the cycle, then the objective, as a user would.
  await page.waitForSelector(`#cycle option[value="${cycleId}"]`, { state: "attached" });
  await page.selectOption("#cycle", cycleId);
  await page.waitForSelector(`#objective option[value="${rootId}"]`, { state: "attached" });
  await page.selectOption("#objective", rootId);
  await page.waitForSelector(row(rootId));
  await page.waitForSelector("#live.on");
  await page.waitForTimeout(300); // let any overlapping selection settle
  const roots = await page.$$eval(node(rootId), (nodes) => nodes.length);
  if (roots !== 1) throw new Error(`the tree shows its root ${roots} times`);

  // Expand the branch: its children appear.
  await page.click(`${row(branchId)} > .toggle`);
  await page.waitForSelector(row(leafId), { state: "visible" });
  // Collapse and expand again: the branch hides and comes back without reloading.
  await page.click(`${row(branchId)} > .toggle`);
  await page.waitForSelector(row(leafId), { state: "hidden" });
  await page.click(`${row(branchId)} > .toggle`);
  await page.waitForSelector(row(leafId), { state: "visible" });

  // Open the leaf's key results and notes.
  await page.click(`${row(leafId)} > .title`);
  await page.waitForFunction((title) => document.querySelector("#details h2")?.textContent === title, leafTitle);
  await page.waitForSelector(`#details [data-key-result="${keyResultId}"]`);

  const valueOf = (id) => page.$eval(`${row(id)} .bar`, (bar) => Number(bar.getAttribute("aria-valuenow")));
  const leafBefore = await valueOf(leafId);
  const rootBefore = await valueOf(rootId);

  // A check-in through the API (not through the page) moves the bars live.
  const sent = Date.now();
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: "mutation($input: CheckInInput!) { checkIn(input: $input) { keyResult { progress } } }",
      variables: { input: { keyResultId, value: 100, note: "Shipped to every region." } },
    }),
  });
  const result = await response.json();
  if (result.errors) throw new Error(`check-in failed: ${JSON.stringify(result.errors)}`);
  await page.waitForFunction(
    ([selector, before]) => Number(document.querySelector(selector)?.getAttribute("aria-valuenow")) !== before,
    [`${row(leafId)} .bar`, leafBefore],
  );
  const delayMs = Date.now() - sent;
  await page.waitForFunction(
    ([selector, before]) => Number(document.querySelector(selector)?.getAttribute("aria-valuenow")) !== before,
    [`${row(rootId)} .bar`, rootBefore],
  );
  const leafAfter = await valueOf(leafId);
  const rootAfter = await valueOf(rootId);
  // The open details panel refreshes too, with the new note.
  await page.waitForFunction(() => [...document.querySelectorAll("#details .note")]
    .some((note) => note.textContent.includes("Shipped to every region.")), null, { timeout: 10000 });

  await page.waitForTimeout(1300); // let the highlight fade before the screenshot
  const rootsAtEnd = await page.$$eval(node(rootId), (nodes) => nodes.length);
  if (rootsAtEnd !== 1) throw new Error(`the tree shows its root ${rootsAtEnd} times`);
  await page.screenshot({ path: screenshot, fullPage: true });
  if (failures.length) throw new Error(failures.join("\n"));
  console.log(JSON.stringify({ leafBefore, leafAfter, rootBefore, rootAfter, delayMs, screenshot }));
} finally {
  await browser.close();
}
