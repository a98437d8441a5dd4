// The playground runs subscriptions: in headless Chromium, a progressChanged subscription and
// an Authorization header are put in the playground's editors and run, while check-ins are
// posted through the API until the response pane shows an event. Prints the event as JSON;
// exits non-zero on any failure.
//
// Environment: GOALGRAPH_URL, GOALGRAPH_TOKEN, ROOT_ID, KEY_RESULT_ID, CHROMIUM.
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const base = env("GOALGRAPH_URL");

const browser = await chromium.launch({
  executablePath: env("CHROMIUM", "/usr/bin/chromium"),
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await browser.newPage();
  const failures = [];
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
  await page.goto(`${base}/graphql`);
  await page.waitForSelector(".graphiql-query-editor .CodeMirror");
  // Type the subscription and the Authorization header into the editors, as a user would
  // (CodeMirror's API, since typing would fight its auto-completion), then press Run.
  await page.evaluate(({ token, rootId }) => {
    const editor = (selector) => document.querySelector(selector).CodeMirror;
    editor(".graphiql-query-editor .CodeMirror").setValue(
      `subscription Live { progressChanged(under: "${rootId}") { objective { id progress } } }`,
    );
    const tools = [...document.querySelectorAll(".graphiql-editor-tool .CodeMirror")];
    const headers = tools.find((element) => !element.closest(".hidden")) ?? tools[tools.length - 1];
    headers.CodeMirror.setValue(JSON.stringify({ Authorization: `Bearer ${token}` }));
  }, { token: env("GOALGRAPH_TOKEN"), rootId: env("ROOT_ID") });
  // GraphiQL re-reads the operation name a moment after an edit.
  await page.waitForTimeout(700);
  await page.click(".graphiql-execute-button");
  // Check in through the API until the response pane shows an event.
  const response = () => page.evaluate(
    () => document.querySelector(".graphiql-response .CodeMirror")?.CodeMirror.getValue() ?? "",
  );
  let shown = "";
  for (let value = 10; value <= 100 && !shown.includes("progressChanged"); value += 10) {
    const posted = await fetch(`${base}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${env("GOALGRAPH_TOKEN")}` },
      body: JSON.stringify({
        query: "mutation($input: CheckInInput!) { checkIn(input: $input) { keyResult { id } } }",
        variables: { input: { keyResultId: env("KEY_RESULT_ID"), value } },
      }),
    });
    if (!posted.ok) throw new Error(`check-in: HTTP ${posted.status}`);
    await page.waitForTimeout(500);
    shown = await response();
  }
  if (!shown.includes("progressChanged")) throw new Error(`no event in the response pane: ${shown}`);
  const event = JSON.parse(shown);
  if (failures.length) throw new Error(failures.join("\n"));
  console.log(JSON.stringify(event));
} finally {
  await browser.close();
}
