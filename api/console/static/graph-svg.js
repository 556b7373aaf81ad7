// graph-svg.js: the drawing as a standalone SVG document, written from the nodes' positions,
// shapes, colours and labels and the edges' end points (cytoscape-svg is GPL: not used).
// One <g class="node" data-id data-state> per drawn node, parents (group boxes) first, then
// the edges, then the other nodes; one <line class="edge"> per drawn edge.
//
// Example
//   const text = toSvg(cy);  // '<?xml ...><svg ...>...</svg>'

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function polygon(shape, cx, cy, w, h) {
  const rx = w / 2;
  const ry = h / 2;
  const pts = (list) => list.map(([px, py]) => `${(cx + px * rx).toFixed(1)},${(cy + py * ry).toFixed(1)}`).join(' ');
  const ring = (k, offset, radii = [1]) => Array.from({ length: k }, (_, i) => {
    const a = offset + (2 * Math.PI * i) / k;
    const r = radii[i % radii.length];
    return [r * Math.cos(a), r * Math.sin(a)];
  });
  switch (shape) {
    case 'octagon': return pts(ring(8, Math.PI / 8));
    case 'hexagon': return pts(ring(6, 0));
    case 'diamond': return pts([[0, -1], [1, 0], [0, 1], [-1, 0]]);
    case 'triangle': return pts([[0, -1], [1, 1], [-1, 1]]);
    case 'star': return pts(ring(10, -Math.PI / 2, [1, 0.45]));
    default: return null;
  }
}

function svgColour(value) {
  return value || '#000000';
}

function nodeSvg(n) {
  const p = n.position();
  const w = n.width();
  const hgt = n.height();
  const fill = svgColour(n.style('background-color'));
  const stroke = svgColour(n.style('border-color'));
  const sw = parseFloat(n.style('border-width')) || 1;
  const dash = { dashed: ' stroke-dasharray="5,3"', dotted: ' stroke-dasharray="2,2"' }[n.style('border-style')] || '';
  const id = esc(n.id());
  const attrs = `fill="${fill}" stroke="${stroke}" stroke-width="${sw}"${dash}`;
  let shape;
  let labelY;
  if (n.isParent()) {
    shape = `<rect x="${(p.x - w / 2).toFixed(1)}" y="${(p.y - hgt / 2).toFixed(1)}" width="${w.toFixed(1)}" height="${hgt.toFixed(1)}" rx="8" fill-opacity="0.6" ${attrs}/>`;
    labelY = p.y - hgt / 2 - 5;
  } else {
    const pts = polygon(n.style('shape'), p.x, p.y, w, hgt);
    shape = pts
      ? `<polygon points="${pts}" ${attrs}/>`
      : `<ellipse cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" rx="${(w / 2).toFixed(1)}" ry="${(hgt / 2).toFixed(1)}" ${attrs}/>`;
    labelY = p.y + hgt / 2 + 12;
  }
  const weight = n.style('font-weight') === 'bold' ? ' font-weight="bold"' : '';
  const label = `<text x="${p.x.toFixed(1)}" y="${labelY.toFixed(1)}" text-anchor="middle"${weight}>${esc(n.data('label'))}</text>`;
  return `<g class="node" data-id="${id}" data-state="${esc(n.data('state'))}">${shape}${label}</g>`;
}

function edgeSvg(e) {
  const s = e.sourceEndpoint();
  const t = e.targetEndpoint();
  const colour = svgColour(e.style('line-color'));
  const width = parseFloat(e.style('width')) || 1;
  return `<line class="edge" x1="${s.x.toFixed(1)}" y1="${s.y.toFixed(1)}" x2="${t.x.toFixed(1)}" y2="${t.y.toFixed(1)}" stroke="${colour}" stroke-width="${width}" marker-end="url(#arrow)"/>`;
}

/** The drawing as a standalone SVG document (one <g class="node"> per drawn node). */
export function toSvg(cy) {
  const bb = cy.elements().boundingBox({ includeLabels: true });
  const pad = 20;
  const x0 = bb.x1 - pad;
  const y0 = bb.y1 - pad;
  const w = bb.w + 2 * pad;
  const hgt = bb.h + 2 * pad;
  const depth = (n) => n.ancestors().length;
  const nodes = cy.nodes().toArray().sort((a, b) => depth(a) - depth(b));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="${x0.toFixed(1)} ${y0.toFixed(1)} ${w.toFixed(1)} ${hgt.toFixed(1)}" width="${w.toFixed(0)}" height="${hgt.toFixed(0)}" font-family="sans-serif" font-size="10">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9e9e9e"/></marker></defs>',
    `<rect x="${x0.toFixed(1)}" y="${y0.toFixed(1)}" width="${w.toFixed(1)}" height="${hgt.toFixed(1)}" fill="#ffffff"/>`,
    ...nodes.filter((n) => n.isParent()).map(nodeSvg),
    ...cy.edges().map(edgeSvg),
    ...nodes.filter((n) => !n.isParent()).map(nodeSvg),
    '</svg>',
  ].join('\n');
}

