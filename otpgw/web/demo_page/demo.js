// The demo page: a login form on otpgw's API, and a phone that shows the inbox.
(function () {
  "use strict";
  var codeId = null, last = 0;
  var $ = function (id) { return document.getElementById(id); };

  function show(kind, text) {
    var box = $("outcome");
    box.className = kind;
    box.textContent = text;
  }

  function call(path, body) {
    return fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)})
      .then(function (r) { return r.json().then(function (data) { return {status: r.status, data: data}; }); });
  }

  function explain(reply) {
    var err = reply.data.error || {}, details = err.details || {};
    if (reply.status === 429) return ["limited", "Rate limited (" + (details.limit || "limit") + "): try again in " + details.retry_after + " s."];
    if (reply.status === 423) return ["locked", "Locked after too many wrong codes: try again in " + details.retry_after + " s."];
    if (reply.status === 410) return ["gone", "This code can no longer be used: " + err.code.replace("_", " ") + "."];
    return ["gone", err.message || ("Error " + reply.status)];
  }

  $("send").addEventListener("click", function () {
    var phone = $("phone").value.trim();
    $("send").disabled = true;
    call("/otp/send", {phone: phone}).then(function (reply) {
      $("send").disabled = false;
      if (reply.status === 202) {
        codeId = reply.data.id;
        $("verify").disabled = false;
        show("sent", "Code sent. Check the phone, then type the code.");
        $("code").focus();
      } else {
        var e = explain(reply);
        show(e[0], e[1]);
      }
    });
  });

  $("verify").addEventListener("click", function () {
    call("/otp/verify", {id: codeId, code: $("code").value.trim()}).then(function (reply) {
      if (reply.status === 200 && reply.data.valid) {
        show("approved", "Approved: you are signed in.");
      } else if (reply.status === 200) {
        show("invalid", "Wrong code: " + reply.data.attempts_left + " attempt(s) left.");
      } else {
        var e = explain(reply);
        show(e[0], e[1]);
      }
    });
  });

  function poll() {
    fetch("/demo/inbox?after=" + last).then(function (r) { return r.json(); }).then(function (data) {
      data.messages.forEach(function (m) {
        var inbox = $("inbox"), empty = inbox.querySelector(".empty");
        if (empty) empty.remove();
        var meta = document.createElement("div");
        meta.className = "meta";
        meta.textContent = "to " + m.to + " · " + new Date(m.at * 1000).toLocaleTimeString();
        var bubble = document.createElement("div");
        bubble.className = "sms";
        bubble.textContent = m.text;
        var item = document.createElement("div");
        item.appendChild(meta);
        item.appendChild(bubble);
        inbox.appendChild(item);
        inbox.scrollTop = inbox.scrollHeight;
        last = Math.max(last, m.n);
      });
    }).catch(function () {}).then(function () { setTimeout(poll, 400); });
  }
  poll();
}());
