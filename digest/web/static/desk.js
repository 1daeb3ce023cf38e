// The desk's one script: plain JavaScript, no build step. Every change is a POST of the
// whole plan with the session's CSRF token; the email frame reloads after it.
(() => {
  const csrf = document.querySelector('meta[name=csrf]').content;
  let state = null;
  const $ = (id) => document.getElementById(id);
  const say = (text) => { $('status').textContent = text; };
  // Proof, approval and hand-off answer beside their buttons too: on a phone the status line
  // is a screen away (it alone is live, so a screen reader hears each answer once).
  const sayHere = (text) => { say(text); $('send-said').textContent = text; };
  const post = async (path, data) => {
    const answer = await fetch(path, {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}, body: JSON.stringify(data)});
    const json = await answer.json();
    if (!answer.ok) { throw new Error(json.error || answer.statusText); }
    return json;
  };
  const frame = () => {
    const width = document.querySelector('input[name=width]:checked').value;
    const scheme = document.querySelector('input[name=scheme]:checked').value;
    const pictures = document.querySelector('input[name=pictures]').checked ? 'on' : 'off';
    $('frame').classList.toggle('desktop', width === 'desktop');
    $('email').src = `/email?scheme=${scheme}&pictures=${pictures}&t=${Date.now()}`;
  };
  const button = (label, name, action, url) => {
    const b = document.createElement('button');
    b.type = 'button'; b.textContent = label; b.dataset.action = action; b.dataset.url = url;
    b.setAttribute('aria-label', `${label}: ${name}`);
    return b;
  };
  const render = (focus) => {
    $('edition').textContent = `${state.edition} · ${state.subject}`;
    $('findings').replaceChildren(...state.findings.map((f) => {
      const p = document.createElement('p'); p.className = `finding ${f.severity}`;
      p.textContent = `${f.severity}: ${f.message}`; return p;
    }));
    const list = $('stories');
    list.replaceChildren(...state.stories.map((s) => {
      const li = document.createElement('li'); li.className = 'story' + (s.place === 'left out' ? ' out' : '');
      const title = document.createElement('div'); title.className = 'title'; title.textContent = s.title;
      const where = document.createElement('div'); where.className = 'where';
      where.textContent = s.place === 'lead' ? 'Lead story' : s.place === 'teaser' ? `In ${s.why}` : `Left out ${s.why}`;
      const buttons = document.createElement('div'); buttons.className = 'buttons';
      if (s.place !== 'lead') { buttons.append(button('Make lead', s.title, 'lead', s.url)); }
      if (s.place === 'left out') { buttons.append(button('Bring back', s.title, 'back', s.url)); }
      else if (s.place === 'teaser') {
        buttons.append(button('Leave out', s.title, 'out', s.url), button('Move up', s.title, 'up', s.url), button('Move down', s.title, 'down', s.url));
      }
      if (s.place !== 'left out') {
        const choice = document.createElement('select');
        choice.dataset.url = s.url;
        choice.setAttribute('aria-label', `Section: ${s.title}`);
        for (const name of state.sections) {
          const option = document.createElement('option');
          option.value = name; option.textContent = name; option.selected = name === s.section;
          choice.append(option);
        }
        buttons.append(choice);
      }
      li.append(title, where, buttons); return li;
    }));
    for (const id of ['subject', 'preheader', 'note']) { $(id).value = state.plan[id] || ''; }
    const quote = $('quote');
    const automatic = document.createElement('option');
    automatic.value = ''; automatic.textContent = 'Chosen by date';
    quote.replaceChildren(automatic, ...state.quotes.map((text) => {
      const option = document.createElement('option');
      option.value = text; option.textContent = text.length > 80 ? `${text.slice(0, 79)}…` : text;
      return option;
    }));
    quote.value = state.plan.quote || '';
    if (!$('approver').value) { $('approver').value = state.approver; }
    // The hand-off: shown once a list manager is configured, usable once the edition is
    // approved as shown, gone once the tool has scheduled or sent the campaign.
    const handOff = state.publish, campaign = handOff && handOff.campaign;
    const settled = Boolean(campaign && campaign.status !== 'draft');
    const why = !handOff ? '' : settled
      ? `The campaign is ${campaign.status} in ${handOff.name}: digest leaves it alone.`
      : handOff.approved ? '' : `Approve the edition as it is now to hand it to ${handOff.name}.`;
    $('publish').hidden = !handOff || settled;
    $('publish').disabled = Boolean(why);
    if (handOff) { $('publish').textContent = handOff.label; }
    $('publish-why').textContent = why;
    $('publish-why').hidden = !why;
    $('campaign').hidden = !(campaign && campaign.url);
    if (campaign && campaign.url) {
      $('campaign').href = campaign.url;
      $('campaign').textContent = `Open the campaign in ${handOff.name} (${campaign.status})`;
    }
    frame();
    if (focus) {
      const url = CSS.escape(focus.url);
      const again = list.querySelector(`[data-url="${url}"][data-action="${focus.action}"]`)
        || (focus.action === 'section' && list.querySelector(`select[data-url="${url}"]`))
        || list.querySelector(`button[data-url="${url}"]`);
      if (again) { again.focus(); }
    }
  };
  const change = async (edit, focus, done) => {
    const plan = JSON.parse(JSON.stringify(state.plan));
    edit(plan);
    try { state = await post('/plan', plan); render(focus); say(done); $('send-said').textContent = ''; }
    catch (error) { say(`Not changed: ${error.message}`); }
  };
  const without = (list, url) => list.filter((u) => u !== url);
  const teaserOrder = () => state.stories.filter((s) => s.place === 'teaser').map((s) => s.url);
  $('stories').addEventListener('click', (event) => {
    const b = event.target.closest('button'); if (!b) { return; }
    const url = b.dataset.url, action = b.dataset.action;
    const edits = {
      lead: (p) => { p.lead = url; p.leave_out = without(p.leave_out, url); },
      out: (p) => { p.leave_out = [...without(p.leave_out, url), url]; p.bring_back = without(p.bring_back, url); },
      back: (p) => { p.bring_back = [...without(p.bring_back, url), url]; p.leave_out = without(p.leave_out, url); },
      up: (p) => { const o = teaserOrder(); const i = o.indexOf(url); if (i > 0) { [o[i - 1], o[i]] = [o[i], o[i - 1]]; } p.order = o; },
      down: (p) => { const o = teaserOrder(); const i = o.indexOf(url); if (i >= 0 && i < o.length - 1) { [o[i + 1], o[i]] = [o[i], o[i + 1]]; } p.order = o; },
    };
    const names = {lead: 'Made the lead', out: 'Left out', back: 'Brought back', up: 'Moved up', down: 'Moved down'};
    change(edits[action], {url, action}, `${names[action]}: ${b.getAttribute('aria-label').split(': ').slice(1).join(': ')}`);
  });
  $('stories').addEventListener('change', (event) => {
    const choice = event.target.closest('select'); if (!choice) { return; }
    const url = choice.dataset.url, section = choice.value;
    change((p) => { p.sections = {...p.sections, [url]: section}; }, {url, action: 'section'},
      `Moved to ${section}`);
  });
  $('save-words').addEventListener('click', () => change((p) => {
    for (const id of ['subject', 'preheader', 'note']) { p[id] = $(id).value.trim() || null; }
    p.quote = $('quote').value || null;
  }, null, 'Saved the words'));
  $('proof').addEventListener('click', async () => {
    try { const r = await post('/proof', {}); sayHere(`Sent a proof to ${r.to.join(', ')}`); }
    catch (error) { sayHere(`No proof sent: ${error.message}`); }
  });
  $('approve').addEventListener('click', async () => {
    try {
      const r = await post('/approve', {name: $('approver').value});
      state = await (await fetch('/state')).json(); render(null);
      sayHere(`Approved by ${r.approver} at ${r.approved_at}`);
    } catch (error) { sayHere(`Not approved: ${error.message}`); }
  });
  $('publish').addEventListener('click', async () => {
    sayHere(`Handing the edition to ${state.publish.name}…`);  // a real tool takes seconds
    try { state = await post('/publish', {}); render(null); sayHere(state.said); }
    catch (error) { sayHere(`No campaign: ${error.message}`); }
  });
  document.querySelectorAll('fieldset input').forEach((i) => i.addEventListener('change', frame));
  fetch('/state').then((r) => r.json()).then((json) => { state = json; render(null); say('Ready'); });
})();
