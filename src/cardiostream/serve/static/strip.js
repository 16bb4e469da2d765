// Printed strips and reports (PDF, PNG, HTML) from the server, fetched with the tab's token
// like every other request (a plain link could not carry it) and opened as an object URL in a
// new tab.

const STRIP = {
  preparing: "Preparing the strip…",
  thing: "strip",
  absent: "This server cannot make strips yet (no strip route).",
};

/**
 * Fetch `path` as a blob and open it. The tab is opened at once, inside the click (a tab
 * opened after an await is a blocked pop-up), and pointed at the file when it arrives; where
 * no tab could be opened, `say` gets a link. `say(text, link?)` reports progress and problems.
 * `words` names what is made: {preparing, thing, absent} (a strip by default).
 */
export async function openStrip(api, path, say, name, words = STRIP) {
  const tab = window.open("", "_blank");
  say(words.preparing);
  let blob;
  try {
    blob = await api.blob(path);
  } catch (err) {
    if (tab) tab.close();
    say(err.status === 404 && /not found/i.test(err.message)
      ? words.absent
      : `Could not make the ${words.thing}: ${err.message.replace(/\.$/, "")}.`);
    return null;
  }
  const url = URL.createObjectURL(blob);
  setTimeout(() => URL.revokeObjectURL(url), 10 * 60 * 1000);
  const Thing = words.thing[0].toUpperCase() + words.thing.slice(1);
  if (tab) {
    tab.location.href = url;
    say(`${Thing} opened in a new tab (${name}).`);
  } else {
    const a = document.createElement("a");
    a.href = url;
    a.target = "_blank";
    a.download = name;
    a.textContent = `Open the ${words.thing} (${name})`;
    say("The browser blocked the new tab: ", a);
  }
  return url;
}
