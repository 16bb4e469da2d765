// Printed strips (PDF, or PNG) from the server, fetched with the tab's token like every other
// request (a plain link could not carry it) and opened as an object URL in a new tab.

/**
 * Fetch `path` as a blob and open it. The tab is opened at once, inside the click (a tab
 * opened after an await is a blocked pop-up), and pointed at the strip when it arrives; where
 * no tab could be opened, `say` gets a link. `say(text, link?)` reports progress and problems.
 */
export async function openStrip(api, path, say, name) {
  const tab = window.open("", "_blank");
  say("Preparing the strip…");
  let blob;
  try {
    blob = await api.blob(path);
  } catch (err) {
    if (tab) tab.close();
    say(err.status === 404 && /not found/i.test(err.message)
      ? "This server cannot make strips yet (no strip route)."
      : `Could not make the strip: ${err.message}.`);
    return null;
  }
  const url = URL.createObjectURL(blob);
  setTimeout(() => URL.revokeObjectURL(url), 10 * 60 * 1000);
  if (tab) {
    tab.location.href = url;
    say(`Strip opened in a new tab (${name}).`);
  } else {
    const a = document.createElement("a");
    a.href = url;
    a.target = "_blank";
    a.download = name;
    a.textContent = `Open the strip (${name})`;
    say("The browser blocked the new tab: ", a);
  }
  return url;
}
