/* successcrew in-app survey widget.
 *
 * Embed it in your product, for the signed-in user only:
 *   <script src="https://crew.example.com/widget.js" async
 *           data-user="USER_ID" data-user-hash="HEX_HMAC_SHA256(SUCCESSCREW_IN_APP_SECRET, USER_ID)"></script>
 * The user hash is computed on your server, never in the browser. When the crew has a survey
 * open for this user, a small card asks the question; nothing is recorded until "Send".
 * Everything is built with textContent: no text from the server is ever parsed as HTML.
 */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me) { return; }
  var base = new URL(me.src).origin;
  var user = me.getAttribute("data-user") || "";
  var hash = me.getAttribute("data-user-hash") || "";
  if (!user || !hash) { return; }
  var api = base + "/api/v1/surveys/in-app";

  function el(tag, text, style) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    if (style) { node.setAttribute("style", style); }
    return node;
  }

  function show(survey) {
    var card = el("div", "", "position:fixed;right:16px;bottom:16px;z-index:2147483000;" +
      "max-width:360px;background:#fff;color:#1c1e21;border-radius:12px;padding:16px;" +
      "box-shadow:0 4px 16px rgba(0,0,0,.2);font:14px/1.4 system-ui,sans-serif");
    card.setAttribute("role", "dialog");
    card.setAttribute("aria-label", "Survey");
    var close = el("button", "\u00d7", "float:right;border:0;background:none;font-size:18px;cursor:pointer");
    close.setAttribute("aria-label", "Close");
    close.onclick = function () { card.remove(); };
    card.appendChild(close);
    card.appendChild(el("p", survey.question, "margin:0 0 8px;font-weight:600"));
    var row = el("div", "", "display:flex;flex-wrap:wrap;gap:4px;margin-bottom:8px");
    var chosen = null;
    var buttons = [];
    for (var n = 0; n <= 10; n++) {
      (function (score) {
        var b = el("button", String(score), "min-width:28px;padding:6px 0;border:1px solid #9aa0a6;" +
          "border-radius:4px;background:#fff;cursor:pointer");
        b.type = "button";
        b.onclick = function () {
          chosen = score;
          buttons.forEach(function (x) { x.style.background = "#fff"; x.style.color = "#1c1e21"; });
          b.style.background = "#1a73e8"; b.style.color = "#fff";
        };
        buttons.push(b);
        row.appendChild(b);
      })(n);
    }
    card.appendChild(row);
    var comment = el("textarea", "", "width:100%;box-sizing:border-box;min-height:60px;margin-bottom:8px");
    comment.maxLength = 2000;
    comment.placeholder = "What is the main reason for your score? (optional)";
    card.appendChild(comment);
    var send = el("button", "Send", "padding:6px 14px;border:0;border-radius:6px;background:#1a73e8;" +
      "color:#fff;cursor:pointer");
    var note = el("p", "", "margin:8px 0 0;color:#5f6368");
    send.type = "button";
    send.onclick = function () {
      if (chosen === null) { note.textContent = "Please choose a score from 0 to 10."; return; }
      send.disabled = true;
      fetch(api, {
        method: "POST", mode: "cors", credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: survey.token, score: chosen, comment: comment.value || null })
      }).then(function (r) {
        note.textContent = r.ok ? "Thank you!" : "Sorry, your answer could not be recorded.";
        if (r.ok) { setTimeout(function () { card.remove(); }, 2000); }
      }).catch(function () { note.textContent = "Sorry, your answer could not be sent."; send.disabled = false; });
    };
    card.appendChild(send);
    card.appendChild(note);
    document.body.appendChild(card);
  }

  fetch(api + "?user=" + encodeURIComponent(user) + "&user_hash=" + encodeURIComponent(hash),
        { mode: "cors", credentials: "omit" })
    .then(function (r) { return r.status === 200 ? r.json() : null; })
    .then(function (survey) { if (survey && survey.token) { show(survey); } })
    .catch(function () {});
})();
