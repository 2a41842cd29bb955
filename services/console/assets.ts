/**
 * The page's one script and its style sheet, served from the console itself
 * (nothing is fetched from anywhere else). The script opens the event stream,
 * swaps in the sections the server re-rendered, and asks before a replay.
 */

export const SCRIPT = `'use strict';
(function () {
  var live = document.getElementById('live');
  var result = document.getElementById('replay-result');
  function setLive(on, text) {
    live.dataset.live = on ? 'on' : 'off';
    live.textContent = text;
  }
  var stream = new EventSource('events');
  stream.addEventListener('sections', function (e) {
    var sections = JSON.parse(e.data);
    Object.keys(sections).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      // Partition details the operator opened stay open across updates.
      var open = Array.prototype.map.call(el.querySelectorAll('details[open][data-partitions]'), function (d) {
        return d.dataset.partitions;
      });
      el.innerHTML = sections[id];
      Array.prototype.forEach.call(el.querySelectorAll('details[data-partitions]'), function (d) {
        if (open.indexOf(d.dataset.partitions) >= 0) d.open = true;
      });
    });
    setLive(true, 'Live updates: on');
  });
  stream.onopen = function () { setLive(true, 'Live updates: on'); };
  stream.onerror = function () { setLive(false, 'Live updates: reconnecting…'); };
  document.addEventListener('click', function (e) {
    var button = e.target.closest ? e.target.closest('button[data-replay]') : null;
    if (!button) return;
    var sub = button.dataset.replay;
    var question = 'Replay the ' + button.dataset.count + ' delivery failure(s) of ' + sub +
      '? They go through verification and delivery again, each once; what fails again goes back to the DLQ.' +
      ' Letters a check refused are not replayed from here (threatrelay dlq replay --letter).';
    if (!window.confirm(question)) return;
    button.disabled = true;
    result.textContent = 'Replaying the dead letters of ' + sub + '…';
    fetch('api/subscriptions/' + encodeURIComponent(sub) + '/replay', {
      method: 'POST',
      headers: { 'x-threatrelay-console': '1' },
    })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (r) {
        var b = r.body;
        result.textContent = r.ok
          ? sub + ': replayed ' + b.selected + ': ' + b.delivered + ' delivered, ' + b.deadLettered +
            ' dead-lettered again, ' + b.skipped + ' filtered out, ' + b.held + ' refused by a check left alone'
          : sub + ': replay failed: ' + (b.error ? b.error.code + ' ' + b.error.message : 'unknown error');
      })
      .catch(function (err) { result.textContent = sub + ': replay failed: ' + err; })
      .finally(function () { button.disabled = false; });
  });
})();
`;

export const STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem 2rem; color: #111; background: #fff; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; } h3 { font-size: 1rem; }
table { border-collapse: collapse; margin: .4rem 0; } caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; } small { color: #444; }
.state-consuming { color: #0a5d1a; font-weight: 600; } .state-disabled { color: #a00; font-weight: 600; }
.state-stopped, .state-unknown { color: #7a5200; font-weight: 600; } .bad { color: #a00; font-weight: 600; }
.chart rect { fill: #2b5fad; } .total { font-variant-numeric: tabular-nums; }
.tlp-red { color: #fff; background: #c00; } .tlp-amber\\+strict, .tlp-amber { background: #ffc000; }
.tlp-green { background: #33ff00; } .reason { max-width: 40rem; }
button { font: inherit; padding: .3rem .8rem; }
#live[data-live="off"] { color: #7a5200; }
tr.partitions > td { border-top: none; padding: 0 .5rem .3rem; } details summary { cursor: pointer; color: #2b5fad; }
`;
