import React from 'react';
import {
  canvasToWorldRect, worldToElementRect, elementToWorldRect, worldToCanvasRect, rectFromPoints,
  placementAt, clampRect, integerRect, formatConfidence,
} from '../model.js';
import { registerViewer, viewportGeometry } from '../viewers.js';

const layerStyle = {
  position: 'absolute', left: 0, top: 0, right: 0, bottom: 0, zIndex: 5, pointerEvents: 'none', overflow: 'hidden',
};

const badgeStripStyle = {
  position: 'absolute', right: 8, top: 8, display: 'flex', flexWrap: 'wrap', justifyContent: 'flex-end', gap: 4,
  maxWidth: '60%', pointerEvents: 'none',
};

function textColourOn(colour) {
  // the yellow and sky-blue palette colours need dark text
  return /^#(F0E442|56B4E9|E69F00)$/i.test(colour) ? '#000' : '#fff';
}

/**
 * Draws the filtered machine annotations over OpenSeadragon (an `add` plugin of
 * OpenSeadragonViewer, which gives it `viewer` and `canvasWorld`), and hosts the drawing
 * surface of "Analyse a region". The layer ignores the mouse (the image still pans) except
 * for box labels (click: details) and, only while drawing, the drawing surface.
 */
export class Overlay extends React.Component {
  constructor(props) {
    super(props);
    this.state = { tick: 0, drag: null };
    this.frame = null;
    this.surface = React.createRef();
    this.onViewport = this.onViewport.bind(this);
    this.onPointerDown = this.onPointerDown.bind(this);
    this.onPointerMove = this.onPointerMove.bind(this);
    this.onPointerUp = this.onPointerUp.bind(this);
    this.onKeyDown = this.onKeyDown.bind(this);
  }

  componentDidMount() {
    this.attach(this.props.viewer);
    this.register();
  }

  componentDidUpdate(prevProps) {
    if (prevProps.viewer !== this.props.viewer) {
      this.detach(prevProps.viewer);
      this.attach(this.props.viewer);
    }
    if (prevProps.viewer !== this.props.viewer || prevProps.placements !== this.props.placements) this.register();
    if (this.props.drawing && !prevProps.drawing && this.surface.current) this.surface.current.focus();
  }

  componentWillUnmount() {
    this.detach(this.props.viewer);
    if (this.frame) cancelAnimationFrame(this.frame);
    registerViewer(this.props.windowId, null);
  }

  onViewport() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.setState(({ tick }) => ({ tick: tick + 1 }));
    });
  }

  register() {
    registerViewer(this.props.windowId, this.props.viewer, this.props.placements);
  }

  attach(viewer) {
    if (!viewer) return;
    ['update-viewport', 'animation', 'resize', 'open'].forEach((e) => viewer.addHandler(e, this.onViewport));
    this.onViewport();
  }

  detach(viewer) {
    if (!viewer) return;
    ['update-viewport', 'animation', 'resize', 'open'].forEach((e) => viewer.removeHandler(e, this.onViewport));
  }

  pointFromEvent(event) {
    const box = this.surface.current.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  onPointerDown(event) {
    if (event.button !== undefined && event.button !== 0) return;
    event.preventDefault();
    event.stopPropagation();
    if (event.currentTarget.setPointerCapture && event.pointerId !== undefined) {
      event.currentTarget.setPointerCapture(event.pointerId);
    }
    const p = this.pointFromEvent(event);
    this.setState({ drag: { start: p, end: p } });
  }

  onPointerMove(event) {
    if (!this.state.drag) return;
    event.preventDefault();
    const p = this.pointFromEvent(event);
    this.setState(({ drag }) => ({ drag: drag && { ...drag, end: p } }));
  }

  onPointerUp(event) {
    const { drag } = this.state;
    if (!drag) return;
    event.preventDefault();
    const end = this.pointFromEvent(event);
    this.setState({ drag: null });
    const element = rectFromPoints(drag.start, end);
    if (element.w < 4 || element.h < 4) return; // a click, not a rectangle
    const geometry = viewportGeometry(this.props.viewer);
    if (!geometry) return;
    const world = elementToWorldRect(geometry.bounds, geometry.container, element);
    const placement = placementAt(this.props.placements, { x: world.x + world.w / 2, y: world.y + world.h / 2 });
    if (!placement) return;
    const rect = clampRect(worldToCanvasRect(placement, world), placement.width, placement.height);
    if (!rect) return;
    this.props.setRegion({ canvasId: placement.canvasId, ...integerRect(rect) });
  }

  onKeyDown(event) {
    if (event.key === 'Escape') {
      this.setState({ drag: null });
      this.props.setDrawing(false);
    }
  }

  toElement(geometry, placement, rect) {
    return worldToElementRect(geometry.bounds, geometry.container, canvasToWorldRect(placement, rect));
  }

  renderBoxes(geometry) {
    const { visibleItems, placements, colours, selectedId, selectItem } = this.props;
    const byCanvas = new Map(placements.map((p) => [p.canvasId, p]));
    const boxes = [];
    visibleItems.forEach((item) => {
      if (item.whole) return;
      const placement = byCanvas.get(item.canvasId);
      if (!placement) return;
      const r = this.toElement(geometry, placement, item.rect);
      if (r.x > geometry.container.x || r.y > geometry.container.y || r.x + r.w < 0 || r.y + r.h < 0) return;
      const colour = colours[item.model] || '#888';
      const selected = item.id === selectedId;
      const text = `${item.label}${item.confidence == null ? '' : ` ${formatConfidence(item.confidence)}`}`;
      boxes.push(
        <g key={item.id} data-annoserver-box={item.model} data-annotation-id={item.id}>
          <rect x={r.x} y={r.y} width={Math.max(1, r.w)} height={Math.max(1, r.h)} fill="none"
            stroke="rgba(0,0,0,0.55)" strokeWidth={selected ? 5 : 3.5} />
          <rect x={r.x} y={r.y} width={Math.max(1, r.w)} height={Math.max(1, r.h)}
            fill={selected ? 'rgba(255,255,255,0.12)' : 'none'} stroke={colour} strokeWidth={selected ? 3 : 2} />
          {r.w > 24 && (
            <foreignObject x={r.x} y={Math.max(0, r.y - 20)} width={Math.max(60, text.length * 7.5 + 12)} height={20}
              style={{ overflow: 'visible' }}>
              <button type="button" tabIndex={-1}
                title={`${item.model}: ${item.labels.join(', ') || item.label} (click for details)`}
                onClick={() => selectItem(item.id)}
                style={{
                  pointerEvents: 'auto', cursor: 'pointer', font: '12px/18px Roboto, Arial, sans-serif', padding: '0 5px',
                  border: 0, borderRadius: 3, background: colour, color: textColourOn(colour), whiteSpace: 'nowrap',
                }}>
                {text}
              </button>
            </foreignObject>
          )}
        </g>,
      );
    });
    return boxes;
  }

  renderRegion(geometry) {
    const { region, placements } = this.props;
    if (!region) return null;
    const placement = placements.find((p) => p.canvasId === region.canvasId);
    if (!placement) return null;
    const r = this.toElement(geometry, placement, region);
    return (
      <rect data-annoserver-region x={r.x} y={r.y} width={Math.max(1, r.w)} height={Math.max(1, r.h)}
        fill="rgba(255,255,255,0.08)" stroke="#fff" strokeWidth={2} strokeDasharray="6 4" />
    );
  }

  render() {
    const { viewer, visibleItems, colours, drawing, showBadges } = this.props;
    const geometry = viewportGeometry(viewer);
    const { drag } = this.state;
    const badges = showBadges ? visibleItems.filter((item) => item.whole) : [];
    return (
      <div className="annoserver-overlay" style={layerStyle} data-testid="annoserver-overlay">
        {geometry && (
          <svg width="100%" height="100%" style={{ position: 'absolute', left: 0, top: 0, overflow: 'visible' }}
            aria-hidden="true">
            {this.renderBoxes(geometry)}
            {this.renderRegion(geometry)}
            {drag && (() => {
              const r = rectFromPoints(drag.start, drag.end);
              return <rect x={r.x} y={r.y} width={r.w} height={r.h} fill="rgba(255,255,255,0.15)" stroke="#fff" strokeWidth={2} />;
            })()}
          </svg>
        )}
        {badges.length > 0 && (
          <div style={badgeStripStyle} data-testid="annoserver-badges">
            {badges.slice(0, 12).map((item) => {
              const colour = colours[item.model] || '#888';
              return (
                <span key={item.id} data-annoserver-badge={item.model} title={`${item.model} (whole canvas)`}
                  style={{
                    font: '12px/20px Roboto, Arial, sans-serif', padding: '0 8px', borderRadius: 10,
                    background: colour, color: textColourOn(colour), boxShadow: '0 1px 3px rgba(0,0,0,0.4)',
                  }}>
                  {item.label}{item.confidence == null ? '' : ` ${formatConfidence(item.confidence)}`}
                </span>
              );
            })}
          </div>
        )}
        {drawing && (
          <div ref={this.surface} role="application" tabIndex={0}
            aria-label="Drawing surface: drag a rectangle over the image to choose a region to analyse; Escape cancels"
            data-testid="annoserver-draw-surface"
            onPointerDown={this.onPointerDown} onPointerMove={this.onPointerMove} onPointerUp={this.onPointerUp}
            onKeyDown={this.onKeyDown}
            style={{
              position: 'absolute', left: 0, top: 0, right: 0, bottom: 0, pointerEvents: 'auto',
              cursor: 'crosshair', touchAction: 'none', outline: '2px dashed rgba(255,255,255,0.7)', outlineOffset: -4,
            }} />
        )}
      </div>
    );
  }
}

Overlay.defaultProps = {
  viewer: null, visibleItems: [], placements: [], colours: {}, selectedId: null, drawing: false, region: null,
  showBadges: true, selectItem: () => {}, setRegion: () => {}, setDrawing: () => {},
};
