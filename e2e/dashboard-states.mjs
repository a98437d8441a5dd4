// The dashboard's live indicator shows the real state, in headless Chromium: "live" with a
// subscription, "connecting…" while its server is down, "live" again (with the tree re-read)
// once it is back, and "not live" with the server's reason — without retrying — when the
// token expires. Driven step by step with the test over stdin/stdout: prints one JSON line per
// step and waits for the test's line before going on.
//
// Environment: GOALGRAPH_URL, GOALGRAPH_TOKEN, ROOT_ID, ROOT_AFTER (the root's percentage after
// the test's check-in), CHROMIUM. The token that expires comes from the test on stdin after the
// "live again" step, issued then: a token issued at the start could expire while a loaded
// machine is still reconnecting, before the page that should see it expire has even loaded.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env("GOALGRAPH_URL");
const rootId = env("ROOT_ID");
const input = createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
const step = async (name, detail = {}) => {
  console.log(JSON.stringify({ step: name, ...detail }));
  return (await lines.next()).value;
};
const indicator = (page) => page.$eval("#live", (live) => live.textContent);

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

/// A fresh browser context showing the tree under the root with `token`; counts its sockets.
async function open(token) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const sockets = { opened: 0 };
  page.on("websocket", () => { sockets.opened += 1; });
  await page.goto(`${base}/#token=${encodeURIComponent(token)}`);
  await page.waitForSelector(`#objective option[value="${rootId}"]`, { state: "attached" });
  await page.selectOption("#objective", rootId);
  await page.waitForSelector(`li.node[data-id="${rootId}"]`);
  await page.waitForSelector("#live.on");
  return { page, sockets };
}

try {
  const { page } = await open(env("GOALGRAPH_TOKEN"));
  await step("live", { indicator: await indicator(page) });
  // The test stopped the server.
  await page.waitForFunction(() => document.querySelector("#live").textContent === "connecting…",
    null, { timeout: 15000 });
  await step("reconnecting", { indicator: await indicator(page) });
  // The test checked in elsewhere and started the server again on the same address.
  await page.waitForSelector("#live.on", { timeout: 40000 });
  const expected = env("ROOT_AFTER");
  await page.waitForFunction(
    ([id, value]) => document.querySelector(`li.node[data-id="${id}"] > .row .bar`)
      ?.getAttribute("aria-valuenow") === value,
    [rootId, expected], { timeout: 10000 });
  const shortToken = await step("live again", { indicator: await indicator(page), root: expected });

  const expiring = await open(shortToken);
  await expiring.page.waitForFunction(
    () => document.querySelector("#live").textContent.startsWith("not live:"),
    null, { timeout: 40000 });
  const atRefusal = expiring.sockets.opened;
  await expiring.page.waitForTimeout(3000); // a retrying client would reconnect by now
  await step("refused", {
    indicator: await indicator(expiring.page),
    sockets: expiring.sockets.opened,
    socketsAfterRefusal: expiring.sockets.opened - atRefusal,
  });
} finally {
  await browser.close();
  input.close(); // stdin would keep Node running
}
