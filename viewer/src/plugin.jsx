import React from 'react';
import { MachineIcon } from './ui.js';
import {
  CompanionWindow, canvasPlacements, getAnnotationsState, getConfig, getManifestCanvases, getManifestInfo,
  getManifestTitles, getVisibleCanvases, receiveAnnotation, addWindow, setCanvas,
} from './mirador-api.js';
import {
  DEFAULT_WINDOW_STATE, makeViewSelector, pluginConfigCached, reducer, selectItem, setDrawing,
  setLabelQuery, setMinConfidence, setRegion, setReview, toggleLayer,
} from './state.js';
import { Panel } from './components/Panel.jsx';
import { Overlay } from './components/Overlay.jsx';

export const PANEL = 'annoserver';

/** The sidebar tab's icon (Mirador renders it inside its own labelled Tab). */
export function SidebarIcon() {
  return <MachineIcon titleAccess="Machine annotations" />;
}
SidebarIcon.value = PANEL;

/** The titles of the manifests Mirador holds, recomputed only when its manifests change. */
function manifestTitlesMemo() {
  let last = { manifests: {}, value: {} };
  return (state) => {
    if (state.manifests !== last.manifests) last = { manifests: state.manifests, value: getManifestTitles(state) };
    return last.value;
  };
}

/** Keep an array's identity while its content is the same (fewer re-renders). */
function stableBy(keyOf) {
  let last = { key: null, value: null };
  return (value) => {
    const key = keyOf(value);
    if (key !== last.key) last = { key, value };
    return last.value;
  };
}

function windowProps(state, windowId, memo) {
  const config = pluginConfigCached(getConfig(state));
  const canvases = memo.canvases(getVisibleCanvases(state, windowId));
  const stored = (state.annoserver && state.annoserver[windowId]) || DEFAULT_WINDOW_STATE;
  const view = memo.view(getAnnotationsState(state), canvases, stored, config);
  return { config, canvases, view };
}

function makeMemo() {
  return {
    canvases: stableBy((canvases) => canvases.map((c) => `${c.id}|${c.width}|${c.height}`).join('\n')),
    view: makeViewSelector(),
    manifest: stableBy((m) => `${m.id}\n${m.url}`),
    titles: manifestTitlesMemo(),
  };
}

/** Companion window content: our panel when the content is 'annoserver', else Mirador's. */
export function CompanionWindowWrapper(props) {
  const {
    TargetComponent, targetProps, isAnnoserver, children,
  } = props;
  // Not ours: render what the other wrappers (or Mirador) made, so plugins can be combined.
  if (!isAnnoserver) return children || <TargetComponent {...targetProps} />;
  return (
    <CompanionWindow title="Machine annotations" windowId={targetProps.windowId} id={targetProps.id}
      paperClassName="annoserver-companion-window">
      <Panel {...props} windowId={targetProps.windowId} />
    </CompanionWindow>
  );
}

const companionMapState = () => {
  const memo = makeMemo();
  return (state, { targetProps }) => {
    if (!targetProps || targetProps.content !== PANEL) return { isAnnoserver: false };
    const { windowId } = targetProps;
    return {
      isAnnoserver: true,
      ...windowProps(state, windowId, memo),
      manifest: memo.manifest(getManifestInfo(state, windowId)),
      manifestCanvases: getManifestCanvases(state, windowId),
      manifestTitles: memo.titles(state),
    };
  };
};

function boundActions(dispatch, windowId) {
  return {
    setMinConfidence: (value) => dispatch(setMinConfidence(windowId, value)),
    setLabelQuery: (value) => dispatch(setLabelQuery(windowId, value)),
    toggleLayer: (model, visible) => dispatch(toggleLayer(windowId, model, visible)),
    selectItem: (id) => dispatch(selectItem(windowId, id)),
    setDrawing: (value) => dispatch(setDrawing(windowId, value)),
    setRegion: (region) => dispatch(setRegion(windowId, region)),
    setReview: (id, verdict) => dispatch(setReview(windowId, id, verdict)),
    receiveAnnotation: (canvasId, pageId, page) => dispatch(receiveAnnotation(canvasId, pageId, page)),
    addWindow: (manifestId) => dispatch(addWindow(manifestId)),
    setCanvas: (canvasId) => dispatch(setCanvas(windowId, canvasId)),
  };
}

/** The overlay over OpenSeadragon. */
export function OverlayContainer(props) {
  return <Overlay {...props} />;
}

const overlayMapState = () => {
  const memo = makeMemo();
  const placementsOf = stableBy((placements) => JSON.stringify(placements));
  return (state, { windowId, canvasWorld }) => {
    const { config, view } = windowProps(state, windowId, memo);
    return {
      visibleItems: view.visibleItems,
      colours: view.colours,
      selectedId: view.w.selectedId,
      drawing: view.w.drawing,
      region: view.w.region,
      showBadges: config.showBadges,
      placements: placementsOf(canvasPlacements(canvasWorld)),
    };
  };
};

const miradorMotivations = ['oa:commenting', 'oa:tagging', 'sc:painting', 'commenting', 'tagging',
  'classifying', 'identifying', 'describing', 'supplementing', 'oa:classifying', 'oa:identifying',
  'oa:describing'];

/**
 * The plugin: an array of Mirador 3 plugin definitions. Pass it to Mirador.viewer(config, plugins)
 * (spread it when combining with other plugins).
 */
export const annoserverPlugin = [
  {
    name: 'annoserver-sidebar-button',
    target: 'WindowSideBarButtons',
    mode: 'add',
    component: SidebarIcon,
    config: {
      translations: {
        en: { openCompanionWindow_annoserver: 'Machine annotations' },
        de: { openCompanionWindow_annoserver: 'Maschinelle Annotationen' },
        fr: { openCompanionWindow_annoserver: 'Annotations automatiques' },
      },
      annotations: { filteredMotivations: miradorMotivations },
    },
  },
  {
    name: 'annoserver-panel',
    target: 'CompanionWindowFactory',
    mode: 'wrap',
    component: CompanionWindowWrapper,
    mapStateToProps: companionMapState,
    mapDispatchToProps: (dispatch, { targetProps }) => boundActions(dispatch, targetProps && targetProps.windowId),
    reducers: { annoserver: reducer },
  },
  {
    name: 'annoserver-overlay',
    target: 'OpenSeadragonViewer',
    mode: 'add',
    component: OverlayContainer,
    mapStateToProps: overlayMapState,
    mapDispatchToProps: (dispatch, { windowId }) => boundActions(dispatch, windowId),
  },
];

export default annoserverPlugin;
