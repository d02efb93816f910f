/* layerscope report page: draws the treemaps from the page's JSON document and makes the
   tables filterable and sortable. It only ever sets text and attributes, never markup. */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('data').textContent);
  /* The SVG namespace, taken from an element the parser made (no address in the script). */
  var SVG = document.getElementById('svg-ns').namespaceURI;
  var CATEGORY_COLOURS = {
    'package-cache': '#d62728', 'pycache': '#bcbd22', 'docs': '#9467bd', 'locales': '#8c564b',
    'dev-files': '#e377c2', 'toolchain': '#ff7f0e', 'temp': '#17becf', 'debug-info': '#1f77b4'
  };
  var OTHER_COLOUR = '#b9c0c8';
  var SEVERITY = { info: 0, low: 1, medium: 2, high: 3 };

  function human(b) {
    var units = ['B', 'kB', 'MB', 'GB', 'TB'];
    var u = 0;
    var v = b;
    while (v >= 1000 && u < units.length - 1) { v /= 1000; u++; }
    return u === 0 ? b + ' B' : v.toFixed(1) + ' ' + units[u];
  }
  function layerHue(layer) { return (210 + layer * 137.508) % 360; }
  function layerColour(layer, dir) {
    if (layer < 0) { return dir ? '#eef0f2' : OTHER_COLOUR; }
    var h = layerHue(layer).toFixed(1);
    return dir ? 'hsl(' + h + ',40%,90%)' : 'hsl(' + h + ',62%,60%)';
  }
  function categoryColour(name, dir) {
    if (dir) { return '#f2f3f5'; }
    return Object.prototype.hasOwnProperty.call(CATEGORY_COLOURS, name) ? CATEGORY_COLOURS[name] : OTHER_COLOUR;
  }
  function el(name, cls, text) {
    var e = document.createElement(name);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function svgEl(name, attrs) {
    var e = document.createElementNS(SVG, name);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) { e.setAttribute(k, String(attrs[k])); }
    }
    return e;
  }

  /* Squarified layout of `values` (largest first) into the box: one {x, y, w, h} per value. */
  function squarify(values, x, y, w, h) {
    var out = new Array(values.length);
    var total = 0;
    for (var t = 0; t < values.length; t++) { total += values[t]; }
    if (total <= 0 || w <= 0 || h <= 0) { return out; }
    var scale = (w * h) / total;
    var areas = values.map(function (v) { return v * scale; });
    var i = 0;
    while (i < areas.length) {
      var side = Math.min(w, h);
      var row = [];
      var sum = 0, min = Infinity, max = 0, worst = Infinity;
      while (i < areas.length) {
        var a = areas[i];
        var s = sum + a, mn = Math.min(min, a), mx = Math.max(max, a);
        var r = Math.max((side * side * mx) / (s * s), (s * s) / (side * side * mn));
        if (row.length > 0 && r > worst) { break; }
        row.push(i); sum = s; min = mn; max = mx; worst = r; i++;
      }
      if (w >= h) {
        var cw = sum / h, yy = y;
        row.forEach(function (k) { var rh = areas[k] / cw; out[k] = { x: x, y: yy, w: cw, h: rh }; yy += rh; });
        x += cw; w -= cw;
      } else {
        var rh2 = sum / w, xx = x;
        row.forEach(function (k) { var rw = areas[k] / rh2; out[k] = { x: xx, y: y, w: rw, h: rh2 }; xx += rw; });
        y += rh2; h -= rh2;
      }
    }
    return out;
  }

  function Treemap(box, tm, maxBytes) {
    this.box = box;
    this.tm = tm;
    this.maxBytes = maxBytes;
    this.section = box.closest('.treemap-box');
    var nodes = tm.usage.nodes;
    this.kids = nodes.map(function () { return []; });
    this.paths = new Array(nodes.length);
    this.paths[0] = '';
    for (var i = 1; i < nodes.length; i++) {
      var p = nodes[i][0];
      this.kids[p].push(i);
      this.paths[i] = p === 0 ? nodes[i][1] : this.paths[p] + '/' + nodes[i][1];
    }
    var self = this;
    this.kids.forEach(function (k) { k.sort(function (a, b) { return nodes[b][3] - nodes[a][3]; }); });
    this.mode = 'layer';
    this.root = 0;
    var select = this.section.querySelector('.colour-by');
    select.addEventListener('change', function () { self.mode = select.value; self.draw(); });
    box.addEventListener('click', function (ev) {
      var t = ev.target.closest('[data-i]');
      if (!t) { return; }
      var i = Number(t.getAttribute('data-i'));
      if (nodes[i][2] === 1 && i !== self.root) { self.root = i; self.draw(); }
    });
    box.addEventListener('mousemove', function (ev) { self.tip(ev); });
    box.addEventListener('mouseleave', function () { document.getElementById('tip').hidden = true; });
  }

  Treemap.prototype.colour = function (i) {
    var n = this.tm.usage.nodes[i];
    var dir = n[2] === 1;
    if (this.mode === 'category') {
      return categoryColour(n[7] >= 0 ? this.tm.usage.categories[n[7]] : '', dir);
    }
    return layerColour(n[6], dir);
  };

  Treemap.prototype.draw = function () {
    var nodes = this.tm.usage.nodes;
    var width = this.box.clientWidth || 960;
    var height = Math.max(240, Math.min(620, Math.round(width * 0.55)));
    if (this.maxBytes > 0) {
      var ratio = Math.sqrt(Math.max(nodes[0][3], 1) / this.maxBytes);
      width = Math.max(40, Math.round(width * ratio));
      height = Math.max(30, Math.round(height * ratio));
    }
    while (this.box.firstChild) { this.box.removeChild(this.box.firstChild); }
    var svg = svgEl('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, role: 'img' });
    this.box.appendChild(svg);
    var self = this;
    var drawn = {};
    function node(i, x, y, w, h, depth) {
      if (w < 0.5 || h < 0.5) { return; }
      var n = nodes[i];
      var dir = n[2] === 1;
      svg.appendChild(svgEl('rect', {
        x: x.toFixed(1), y: y.toFixed(1), width: w.toFixed(1), height: h.toFixed(1),
        fill: self.colour(i), 'class': dir ? 'dir' : 'file', 'data-i': i,
        'data-path': self.paths[i], 'data-bytes': n[3], 'data-layer': n[6]
      }));
      drawn[n[6]] = true;
      var label = w > 48 && h > 15;
      if (label) {
        var text = svgEl('text', { x: (x + 3).toFixed(1), y: (y + 11).toFixed(1), 'class': dir ? 'dirname' : 'filename' });
        var name = n[1] + (dir ? '/' : '');
        var fit = Math.max(1, Math.floor((w - 6) / 6.2));
        text.textContent = name.length > fit ? name.slice(0, Math.max(1, fit - 1)) + '\u2026' : name;
        svg.appendChild(text);
      }
      if (dir) { children(i, x + 1, y + (label ? 15 : 1), w - 2, h - (label ? 16 : 2), depth + 1); }
    }
    function children(i, x, y, w, h, depth) {
      if (w < 2 || h < 2) { return; }
      var ks = self.kids[i];
      var values = ks.map(function (k) { return nodes[k][3]; });
      /* Files folded into the directory keep their share as empty space. */
      values.push(nodes[i][5]);
      var boxes = squarify(values, x, y, w, h);
      ks.forEach(function (k, j) { if (boxes[j]) { node(k, boxes[j].x, boxes[j].y, boxes[j].w, boxes[j].h, depth); } });
    }
    children(this.root, 0, 0, width, height, 0);
    this.crumbs();
    this.legend(drawn);
  };

  Treemap.prototype.crumbs = function () {
    var nav = this.section.querySelector('.crumbs');
    while (nav.firstChild) { nav.removeChild(nav.firstChild); }
    var chain = [];
    for (var i = this.root; ; i = this.tm.usage.nodes[i][0]) { chain.unshift(i); if (i === 0) { break; } }
    var self = this;
    chain.forEach(function (i, k) {
      var b = el('button', 'crumb', i === 0 ? '/' : self.tm.usage.nodes[i][1] + '/');
      b.setAttribute('type', 'button');
      b.setAttribute('data-i', i);
      b.addEventListener('click', function () { self.root = i; self.draw(); });
      nav.appendChild(b);
      if (k === chain.length - 1) { b.setAttribute('aria-current', 'true'); }
    });
    nav.appendChild(el('span', 'muted', ' ' + human(this.tm.usage.nodes[this.root][3])));
  };

  Treemap.prototype.legend = function (drawn) {
    var box = this.section.querySelector('.legend');
    while (box.firstChild) { box.removeChild(box.firstChild); }
    var self = this;
    function item(colour, text) {
      var s = el('span', 'item');
      var sw = el('span', 'swatch');
      sw.style.background = colour;
      s.appendChild(sw);
      s.appendChild(document.createTextNode(text));
      box.appendChild(s);
    }
    if (this.mode === 'category') {
      this.tm.usage.categories.forEach(function (c) { item(categoryColour(c, false), c); });
      item(OTHER_COLOUR, 'other');
    } else {
      this.tm.layers.forEach(function (l, i) {
        if (!drawn[i]) { return; }
        var cmd = l[1] || l[0];
        item(layerColour(i, false), 'layer ' + i + ': ' + (cmd.length > 80 ? cmd.slice(0, 79) + '\u2026' : cmd));
      });
    }
    var u = this.tm.usage;
    if (u.folded_files > 0) {
      box.appendChild(el('span', 'muted', u.folded_files + ' of ' + u.files + ' files are too small to draw: folded into their directory.'));
    }
  };

  Treemap.prototype.tip = function (ev) {
    var tip = document.getElementById('tip');
    var t = ev.target.closest('[data-i]');
    if (!t || t.tagName.toLowerCase() !== 'rect') { tip.hidden = true; return; }
    var i = Number(t.getAttribute('data-i'));
    var n = this.tm.usage.nodes[i];
    while (tip.firstChild) { tip.removeChild(tip.firstChild); }
    tip.appendChild(el('div', 'path', '/' + this.paths[i] + (n[2] === 1 ? '/' : '')));
    var size = human(n[3]) + (n[2] === 1 ? ' in ' + n[4] + ' files' : '');
    tip.appendChild(el('div', '', size));
    if (n[6] >= 0) {
      var l = this.tm.layers[n[6]] || ['', null];
      tip.appendChild(el('div', '', (n[2] === 1 ? 'mostly from layer ' : 'layer ') + n[6] + ' (' + l[0] + ')'));
      if (l[1]) { tip.appendChild(el('div', 'cmd', l[1])); }
    }
    if (n[7] >= 0) { tip.appendChild(el('div', '', 'category: ' + this.tm.usage.categories[n[7]])); }
    tip.hidden = false;
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 380) + 'px';
    tip.style.top = (ev.clientY + 14) + 'px';
  };

  var maps = [];
  var byId = {};
  (data.treemaps || []).forEach(function (tm) { byId[tm.id] = tm; });
  var maxBytes = 0;
  if (data.scale === 'shared') {
    (data.treemaps || []).forEach(function (tm) { maxBytes = Math.max(maxBytes, tm.usage.nodes[0][3]); });
  }
  document.querySelectorAll('.treemap[data-treemap]').forEach(function (box) {
    var tm = byId[box.getAttribute('data-treemap')];
    if (tm) { var m = new Treemap(box, tm, maxBytes); maps.push(m); m.draw(); } else { box.appendChild(el('p', 'muted', 'No treemap data in this page.')); }
  });
  var pending = null;
  window.addEventListener('resize', function () {
    clearTimeout(pending);
    pending = setTimeout(function () { maps.forEach(function (m) { m.draw(); }); }, 150);
  });

  /* Layer swatches in the layers tables: the treemap's colours. */
  document.querySelectorAll('[data-layer-swatch]').forEach(function (s) {
    s.style.background = layerColour(Number(s.getAttribute('data-layer-swatch')), false);
  });

  /* Findings: a minimum severity. */
  document.querySelectorAll('.findings').forEach(function (f) {
    var select = f.querySelector('.severity-filter');
    var count = f.querySelector('.count');
    function apply() {
      var min = SEVERITY[select.value] || 0;
      var shown = 0, rows = f.querySelectorAll('tr.finding');
      rows.forEach(function (r) {
        var on = (SEVERITY[r.getAttribute('data-severity')] || 0) >= min;
        r.hidden = !on;
        if (on) { shown++; }
      });
      count.textContent = shown + ' of ' + rows.length + ' shown';
    }
    select.addEventListener('change', apply);
    apply();
  });

  /* Binaries: a search box. */
  document.querySelectorAll('.binaries').forEach(function (b) {
    var input = b.querySelector('.binary-search');
    var count = b.querySelector('.count');
    function apply() {
      var q = input.value.trim().toLowerCase();
      var shown = 0, rows = b.querySelectorAll('tr.binary');
      rows.forEach(function (r) {
        var on = q === '' || r.textContent.toLowerCase().indexOf(q) >= 0;
        r.hidden = !on;
        if (on) { shown++; }
      });
      count.textContent = shown + ' of ' + rows.length;
    }
    input.addEventListener('input', apply);
    apply();
  });

  /* Sortable tables: a click on a header sorts by its column (numbers by data-sort); the
     page's address can ask for an order: #sort=KEY, or #sort=-KEY for descending. */
  var wanted = /^#sort=(-?)([a-z-]+)$/.exec(window.location.hash || '');
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.querySelectorAll('thead th');
    function sortBy(th, col, desc) {
      heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', desc ? 'descending' : 'ascending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(r) {
        var c = r.cells[col];
        var s = c ? c.getAttribute('data-sort') : null;
        return s !== null ? Number(s) : (c ? c.textContent.trim().toLowerCase() : '');
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var r = x < y ? -1 : (x > y ? 1 : 0);
        return desc ? -r : r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    }
    heads.forEach(function (th, col) {
      th.setAttribute('tabindex', '0');
      th.addEventListener('click', function () { sortBy(th, col, th.getAttribute('aria-sort') === 'ascending'); });
      if (wanted && th.getAttribute('data-key') === wanted[2]) { sortBy(th, col, wanted[1] === '-'); }
    });
  });
}());
