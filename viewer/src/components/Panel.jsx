import React from 'react';
import {
  Button, Checkbox, Divider, FormControlLabel, LinearProgress, List, ListItem, ListItemText, Slider, TextField,
  Typography,
} from '../ui.js';
import {
  analysableModels, base64url, canvasImage, canvasRectToImageRegion, embeddingModels, formatConfidence,
  formatScore, formatXywh, modelList, pageItems, reviewStatusText, similarRows, superresRegion,
} from '../model.js';
import { createClient, reviewUrl, tokenStore, FINAL_JOB_STATES } from '../api.js';
import { currentViewRegion, zoomToCanvasRect } from '../viewers.js';

const sectionStyle = { padding: '8px 16px' };
const swatchStyle = (colour) => ({
  display: 'inline-block', width: 14, height: 14, borderRadius: 3, background: colour,
  border: '1px solid rgba(0,0,0,0.4)', marginRight: 8, flex: '0 0 auto',
});
const rowStyle = { display: 'flex', flexWrap: 'wrap', gap: 6, alignItems: 'center', marginTop: 4 };
const thumbStyle = {
  width: 64, height: 64, objectFit: 'contain', flex: '0 0 auto', marginRight: 10, background: '#eee',
  border: '1px solid rgba(0,0,0,0.15)',
};
const dlStyle = { display: 'grid', gridTemplateColumns: 'auto 1fr', gap: '2px 10px', margin: '4px 0', wordBreak: 'break-word' };

function domId(windowId, name) {
  return `annoserver-${String(windowId).replace(/[^A-Za-z0-9_-]/g, '_')}-${name}`;
}

function SectionTitle({ children, id }) {
  return <Typography variant="subtitle2" component="h3" id={id} style={{ marginTop: 4 }}>{children}</Typography>;
}

/**
 * A job's progress as a sentence. The server counts units, one per canvas and model (a
 * manifest of 2 canvases enriched with 2 models is 4 units).
 */
function jobProgressText(job) {
  const active = !FINAL_JOB_STATES.includes(job.state);
  return [
    job.state,
    job.total ? `: ${job.done || 0} of ${job.total} units (one per canvas and model)` : '',
    job.failed ? `, ${job.failed} failed` : '',
    job.eta != null && active ? `, about ${Math.round(job.eta)} s left` : '',
  ].join('');
}

/**
 * The "Machine annotations" companion window: layers, filters, list, details and review,
 * analysis of a region, whole-manifest jobs, access token.
 */
export class Panel extends React.Component {
  constructor(props) {
    super(props);
    this.tokens = tokenStore(props.config.tokenStorageKey);
    const token = this.tokens.get();
    this.state = {
      token,
      tokenDraft: '',
      models: null,
      modelsError: null,
      chosen: null, // Set of model ids (null: defaults)
      persist: false,
      busy: false,
      message: null,
      error: null,
      correction: '',
      reviewMessage: null,
      job: null,
      similarScope: 'all',
      similar: null, // {busy, query (words), response, error}
      brokenThumbnails: {},
    };
    this.similarRequest = 0;
    this.client = this.makeClient();
    this.pollTimer = null;
  }

  componentDidMount() {
    this.mounted = true;
    this.loadModels();
  }

  componentDidUpdate(prevProps) {
    if (prevProps.config.server !== this.props.config.server) {
      this.client = this.makeClient();
      this.loadModels();
    }
  }

  componentWillUnmount() {
    this.mounted = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
  }

  makeClient() {
    return createClient({ server: this.props.config.server, getToken: () => this.tokens.get() });
  }

  async loadModels() {
    if (!this.props.config.server) {
      this.setState({ models: [], modelsError: 'No annoserver is configured (config.annoserver.server).' });
      return;
    }
    try {
      const models = modelList(await this.client.models());
      if (this.mounted) this.setState({ models, modelsError: null });
    } catch (e) {
      if (this.mounted) this.setState({ models: [], modelsError: `Could not list the models: ${e.message}` });
    }
  }

  chosenModels() {
    const { chosen, models } = this.state;
    if (chosen) return [...chosen];
    const analysable = analysableModels(models || []);
    const defaults = this.props.config.defaultModels;
    if (defaults) return analysable.filter((m) => defaults.includes(m.id)).map((m) => m.id);
    return analysable.slice(0, 1).map((m) => m.id);
  }

  toggleModel(id, checked) {
    const next = new Set(this.chosenModels());
    if (checked) next.add(id); else next.delete(id);
    this.setState({ chosen: next });
  }

  targetCanvas() {
    const { canvases, view } = this.props;
    const { region } = view.w;
    return (region && canvases.find((c) => c.id === region.canvasId)) || canvases[0] || null;
  }

  useCurrentView() {
    const canvas = this.targetCanvas();
    const region = currentViewRegion(this.props.windowId, canvas && canvas.id);
    if (!region) {
      this.setState({ error: 'The image is not shown yet; try again in a moment.' });
      return;
    }
    const rounded = {
      canvasId: region.canvasId, x: Math.floor(region.x), y: Math.floor(region.y),
      w: Math.ceil(region.w), h: Math.ceil(region.h),
    };
    this.props.setRegion(rounded);
    this.setState({ error: null });
  }

  async analyse() {
    const { manifest, view, receiveAnnotation } = this.props;
    const canvas = this.targetCanvas();
    const models = this.chosenModels();
    if (!canvas) return this.setState({ error: 'No canvas is shown.' });
    if (!models.length) return this.setState({ error: 'Choose at least one model.' });
    const image = canvasImage(canvas.json);
    if (!image || !image.image) return this.setState({ error: 'This canvas has no image to analyse.' });
    const { region } = view.w;
    const regionString = region ? canvasRectToImageRegion(region, canvas, image) : 'full';
    if (!regionString) return this.setState({ error: 'The region lies outside the image.' });
    const body = {
      image: image.image,
      region: regionString,
      models,
      canvas: { id: canvas.id, width: canvas.width, height: canvas.height },
      persist: Boolean(this.state.persist && this.state.token),
    };
    if (manifest && manifest.id) body.manifest = manifest.id;
    this.setState({ busy: true, error: null, message: `Analysing with ${models.join(', ')}…` });
    try {
      const page = await this.client.analyze(body);
      const items = pageItems(page);
      const pageId = (page && (page.id || page['@id'])) || `urn:annoserver:analysis:${Date.now()}`;
      receiveAnnotation(canvas.id, pageId, page || { type: 'AnnotationPage', items: [] });
      const n = items.length;
      this.setState({
        busy: false,
        message: `${n} annotation${n === 1 ? '' : 's'} from ${models.join(', ')} on region ${regionString}${body.persist ? ' (saved)' : ''}.`,
      });
    } catch (e) {
      this.setState({ busy: false, message: null, error: `Analysis failed: ${e.message}` });
    }
    return null;
  }

  saveToken(event) {
    if (event) event.preventDefault();
    const token = this.state.tokenDraft.trim();
    this.tokens.set(token);
    this.setState({ token, tokenDraft: '' });
  }

  forgetToken() {
    this.tokens.set('');
    this.setState({ token: '', tokenDraft: '', persist: false });
  }

  async review(item, verdict) {
    const { correction } = this.state;
    let body;
    if (verdict === 'corrected') {
      if (!correction.trim()) return this.setState({ reviewMessage: 'Type the correct label first.' });
      body = { type: 'TextualBody', value: correction.trim(), purpose: 'tagging' };
    }
    this.setState({ reviewMessage: 'Sending…' });
    try {
      await this.client.review(item.id, verdict, body);
      this.props.setReview(item.id, verdict);
      this.setState({ reviewMessage: `Recorded: ${verdict}.`, correction: '' });
    } catch (e) {
      this.setState({ reviewMessage: `Review failed: ${e.message}` });
    }
    return null;
  }

  async startJob() {
    const { manifest } = this.props;
    const models = this.chosenModels();
    if (!manifest || !manifest.url) return this.setState({ error: 'No manifest is open.' });
    if (!models.length) return this.setState({ error: 'Choose at least one model.' });
    this.setState({ job: { state: 'starting' }, error: null });
    try {
      const started = await this.client.enrich(manifest.url, models);
      this.setState({ job: { ...started, state: 'queued' } });
      if (started.job) this.pollJob(started.job, started);
    } catch (e) {
      this.setState({ job: null, error: `Could not start the job: ${e.message}` });
    }
    return null;
  }

  async pollJob(url, started) {
    try {
      const status = await this.client.job(url);
      if (!this.mounted) return;
      this.setState({ job: { ...started, ...status, job: url } });
      if (!FINAL_JOB_STATES.includes(status.state)) {
        this.pollTimer = setTimeout(() => this.pollJob(url, started), this.props.config.jobPollMs);
      }
    } catch (e) {
      if (this.mounted) this.setState(({ job }) => ({ job: { ...job, state: 'unknown', error: e.message } }));
    }
  }

  async cancelJob() {
    const { job } = this.state;
    if (!job || !job.job) return;
    try {
      await this.client.cancelJob(job.job);
    } catch (e) {
      this.setState({ error: `Could not cancel: ${e.message}` });
    }
  }

  /** The super-resolution model and the target canvas's image service, when both exist. */
  superres() {
    const sr = (this.state.models || []).find((m) => /superres|super-res/i.test(m.kind || ''));
    const canvas = this.targetCanvas();
    const image = canvas && canvasImage(canvas.json);
    return sr && image && image.service ? { sr, canvas, image } : null;
  }

  /**
   * The drawn region (else the part of the canvas in view) through the server's
   * super-resolution image service (`/iiif/sr/{model}/{base64url(service)}/…`).
   */
  enhancedUrl() {
    const found = this.superres();
    if (!found) return null;
    const { sr, canvas, image } = found;
    const { config, view, windowId } = this.props;
    const rect = view.w.region || currentViewRegion(windowId, canvas.id);
    const region = superresRegion(rect, canvas, image, sr.scale || (sr.output && sr.output.scale));
    return `${config.server}/iiif/sr/${encodeURIComponent(sr.id)}/${base64url(image.image)}/${region}/max/0/default.jpg`;
  }

  openEnhanced() {
    const url = this.enhancedUrl();
    if (url) window.open(url, '_blank', 'noopener');
  }

  /**
   * What "Find similar" asks about: the drawn region (on a canvas in view) as a region of its
   * IIIF image, else the shown canvas by its stored vector.
   * @returns {{params, text}|{error}}
   */
  similarQuery() {
    const { view } = this.props;
    const canvas = this.targetCanvas();
    if (!canvas) return { error: 'No canvas is shown.' };
    const name = canvas.label || canvas.id;
    const { region } = view.w;
    if (region && region.canvasId === canvas.id) {
      const image = canvasImage(canvas.json);
      if (!image || !image.service) {
        return { error: 'This canvas has no IIIF image service, so its region cannot be compared.' };
      }
      const regionString = canvasRectToImageRegion(region, canvas, image);
      if (!regionString) return { error: 'The region lies outside the image.' };
      return { params: { image: image.image, region: regionString }, text: `region ${formatXywh(region)} of ${name}` };
    }
    return { params: { canvas: canvas.id }, text: name };
  }

  async findSimilar() {
    const { config, manifest } = this.props;
    const query = this.similarQuery();
    if (query.error) return this.setState({ similar: { error: query.error } });
    const scope = this.state.similarScope;
    const options = { k: config.similarK, scope };
    // a canvas's stored vector knows its manifest; a region of an image does not
    if (scope === 'manifest' && query.params.image && manifest && manifest.id) options.manifest = manifest.id;
    this.similarRequest += 1;
    const request = this.similarRequest;
    this.setState({ similar: { busy: true, query: query.text }, brokenThumbnails: {} });
    try {
      const response = await this.client.similar(query.params, options);
      if (this.mounted && request === this.similarRequest) this.setState({ similar: { query: query.text, response } });
    } catch (e) {
      if (this.mounted && request === this.similarRequest) {
        this.setState({ similar: { query: query.text, error: `Could not find similar images: ${e.message}` } });
      }
    }
    return null;
  }

  renderLayers() {
    const { view, toggleLayer, windowId } = this.props;
    const { layers, items, visibleItems } = view;
    return (
      <section style={sectionStyle} aria-labelledby={domId(windowId, 'layers-title')}>
        <SectionTitle id={domId(windowId, 'layers-title')}>Layers</SectionTitle>
        {layers.length === 0 && (
          <Typography variant="body2" color="textSecondary">No machine annotations on this canvas yet.</Typography>
        )}
        <List dense disablePadding data-testid="annoserver-layers" aria-label="Annotation layers, one per model">
          {layers.map((layer) => (
            <ListItem key={layer.model} disableGutters data-model={layer.model} data-shown={layer.shown}
              data-total={layer.total}>
              <Checkbox edge="start" size="small" checked={layer.visible} color="primary"
                onChange={(e) => toggleLayer(layer.model, e.target.checked)}
                inputProps={{ 'aria-label': `Show the ${layer.model} layer` }} />
              <span style={swatchStyle(layer.colour)} aria-hidden="true" />
              <ListItemText
                primary={`${layer.model}${layer.versions.length ? ` v${layer.versions.join(', ')}` : ''}`}
                secondary={layer.visible
                  ? `${layer.shown} of ${layer.total} shown (${layer.regions} regions, ${layer.whole} whole-canvas)`
                  : `hidden (${layer.total})`}
                secondaryTypographyProps={{ className: 'annoserver-layer-count' }} />
            </ListItem>
          ))}
        </List>
        <Typography variant="body2" aria-live="polite" data-testid="annoserver-count">
          {`Showing ${visibleItems.length} of ${items.length} annotations`}
        </Typography>
      </section>
    );
  }

  renderFilters() {
    const { view, config, setMinConfidence, setLabelQuery, windowId } = this.props;
    const { w, labels } = view;
    const sliderLabel = domId(windowId, 'confidence-label');
    const listId = domId(windowId, 'labels');
    return (
      <section style={sectionStyle} aria-label="Filters">
        <Typography variant="body2" id={sliderLabel}>
          {`Minimum confidence: ${formatConfidence(w.minConfidence)}`}
        </Typography>
        <Slider data-testid="annoserver-confidence" value={w.minConfidence} min={0} max={1}
          step={config.confidenceStep} aria-labelledby={sliderLabel}
          getAriaValueText={(v) => `${formatConfidence(v)}`} valueLabelDisplay="auto"
          onChange={(e, value) => setMinConfidence(value)} />
        <TextField id={domId(windowId, 'label-filter')} label="Filter by label" value={w.labelQuery} fullWidth
          size="small" margin="dense"
          inputProps={{ list: listId, 'data-testid': 'annoserver-label-filter' }}
          onChange={(e) => setLabelQuery(e.target.value)} />
        <datalist id={listId}>
          {labels.slice(0, 50).map(({ label }) => <option key={label} value={label} />)}
        </datalist>
      </section>
    );
  }

  renderList() {
    const { view, selectItem, config } = this.props;
    const { visibleItems, colours, w } = view;
    const whole = visibleItems.filter((i) => i.whole);
    const sorted = [...visibleItems].sort((a, b) => (b.confidence ?? -1) - (a.confidence ?? -1));
    return (
      <section style={sectionStyle} aria-label="Annotations">
        {whole.length > 0 && (
          <div style={{ ...rowStyle, marginBottom: 6 }} aria-label="Whole-canvas results">
            {whole.map((item) => (
              <Typography key={item.id} variant="caption" component="span" title={`${item.model}, whole canvas`}
                style={{
                  padding: '1px 8px', borderRadius: 10, background: colours[item.model],
                  border: '1px solid rgba(0,0,0,0.2)', color: /^#(0072B2|009E73|D55E00|CC79A7)$/i.test(colours[item.model] || '') ? '#fff' : '#000',
                }}>{`${item.label} ${formatConfidence(item.confidence)}`}</Typography>
            ))}
          </div>
        )}
        <List dense disablePadding aria-label="Machine annotations shown" data-testid="annoserver-list"
          style={{ maxHeight: 220, overflowY: 'auto' }}>
          {sorted.slice(0, config.maxListed).map((item) => (
            <ListItem key={item.id} button selected={item.id === w.selectedId}
              onClick={() => selectItem(item.id === w.selectedId ? null : item.id)}
              style={{ borderLeft: `4px solid ${colours[item.model] || '#888'}` }}>
              <ListItemText primary={`${item.label}${item.confidence == null ? '' : ` · ${formatConfidence(item.confidence)}`}`}
                secondary={`${item.model} · ${item.whole ? 'whole canvas' : `region ${formatXywh(item.rect)}`}`} />
            </ListItem>
          ))}
        </List>
      </section>
    );
  }

  renderDetails() {
    const { view, windowId } = this.props;
    const { token, correction, reviewMessage } = this.state;
    const item = view.items.find((i) => i.id === view.w.selectedId);
    if (!item) return null;
    const localReview = view.w.reviews[item.id];
    const reviewable = Boolean(reviewUrl(this.props.config.server, item.id));
    const canReview = reviewable && Boolean(token);
    return (
      <section style={sectionStyle} aria-labelledby={domId(windowId, 'details-title')} data-testid="annoserver-details">
        <SectionTitle id={domId(windowId, 'details-title')}>{`Details: ${item.label}`}</SectionTitle>
        <Typography variant="body2" component="dl" style={dlStyle}>
          <dt>Model</dt><dd style={{ margin: 0 }}>{item.model}</dd>
          <dt>Version</dt><dd style={{ margin: 0 }}>{item.version || '—'}</dd>
          <dt>Confidence</dt><dd style={{ margin: 0 }}>{item.confidence == null ? '—' : formatConfidence(item.confidence)}</dd>
          <dt>Labels</dt><dd style={{ margin: 0 }}>{item.labels.join(', ') || '—'}</dd>
          <dt>Motivation</dt><dd style={{ margin: 0 }}>{item.motivation || '—'}</dd>
          <dt>Target</dt><dd style={{ margin: 0 }}>{item.whole ? 'whole canvas' : `xywh=${formatXywh(item.rect)}`}</dd>
          <dt>Created</dt><dd style={{ margin: 0 }}>{item.created || '—'}</dd>
          <dt>Status</dt><dd style={{ margin: 0 }} data-testid="annoserver-review-status">{reviewStatusText(item, localReview)}</dd>
        </Typography>
        <div style={rowStyle}>
          {!item.whole && (
            <Button size="small" variant="outlined" onClick={() => zoomToCanvasRect(windowId, item.canvasId, item.rect)}>
              Zoom to
            </Button>
          )}
          <Button size="small" variant="outlined" disabled={!canReview} onClick={() => this.review(item, 'accepted')}>
            Accept
          </Button>
          <Button size="small" variant="outlined" disabled={!canReview} onClick={() => this.review(item, 'rejected')}>
            Reject
          </Button>
        </div>
        <div style={rowStyle}>
          <TextField id={domId(windowId, 'correction')} label="Correct label" size="small" value={correction}
            disabled={!canReview}
            onChange={(e) => this.setState({ correction: e.target.value })} style={{ flex: 1 }} />
          <Button size="small" variant="outlined" disabled={!canReview} onClick={() => this.review(item, 'corrected')}>
            Correct
          </Button>
        </div>
        {!reviewable && (
          <Typography variant="caption" color="textSecondary" component="p">
            Not stored on this server (analyse with “Save results” to review it).
          </Typography>
        )}
        {reviewable && !token && (
          <Typography variant="caption" color="textSecondary" component="p">Reviewing needs an access token (below).</Typography>
        )}
        {reviewMessage && <Typography variant="caption" component="p" aria-live="polite">{reviewMessage}</Typography>}
      </section>
    );
  }

  renderAnalyse() {
    const {
      view, windowId, setDrawing, setRegion, canvases, config,
    } = this.props;
    const { models, modelsError, busy, message, error, persist, token } = this.state;
    const { region, drawing } = view.w;
    const chosen = new Set(this.chosenModels());
    const analysable = analysableModels(models || []);
    const canvas = this.targetCanvas();
    const enhanced = Boolean(config.server && this.superres());
    const regionCanvas = region && canvases.find((c) => c.id === region.canvasId);
    return (
      <section style={sectionStyle} aria-labelledby={domId(windowId, 'analyse-title')} data-testid="annoserver-analyze-panel">
        <SectionTitle id={domId(windowId, 'analyse-title')}>Analyse a region</SectionTitle>
        <div style={rowStyle} role="group" aria-label="Region to analyse">
          <Button size="small" variant={drawing ? 'contained' : 'outlined'} color="primary" aria-pressed={drawing}
            data-testid="annoserver-draw" onClick={() => setDrawing(!drawing)}>
            {drawing ? 'Cancel drawing' : 'Draw a region'}
          </Button>
          <Button size="small" variant="outlined" onClick={() => this.useCurrentView()}>Use current view</Button>
          <Button size="small" variant="outlined" disabled={!region} onClick={() => setRegion(null)}>Whole canvas</Button>
        </div>
        <Typography variant="body2" aria-live="polite" data-testid="annoserver-region" style={{ marginTop: 4 }}>
          {drawing && 'Drag a rectangle over the image (Escape cancels).'}
          {!drawing && (region
            ? `Region ${formatXywh(region)} (canvas)${regionCanvas && regionCanvas.label ? ` on ${regionCanvas.label}` : ''}`
            : `Whole canvas${canvas && canvas.label ? `: ${canvas.label}` : ''}`)}
        </Typography>
        <fieldset style={{ border: 0, padding: 0, margin: '6px 0 0' }}>
          <legend style={{ fontSize: 13, padding: 0 }}>Models</legend>
          {models === null && <LinearProgress aria-label="Loading the models" />}
          {modelsError && <Typography variant="body2" color="error">{modelsError}</Typography>}
          {analysable.map((m) => (
            <FormControlLabel key={m.id} style={{ display: 'flex', marginRight: 0 }}
              control={(
                <Checkbox size="small" color="primary" checked={chosen.has(m.id)}
                  onChange={(e) => this.toggleModel(m.id, e.target.checked)} />
              )}
              label={<span style={{ fontSize: 13 }}>{`${m.id}${m.kind ? ` (${m.kind}` : ''}${m.version ? ` ${m.version}` : ''}${m.kind ? ')' : ''}`}</span>} />
          ))}
        </fieldset>
        <FormControlLabel
          control={<Checkbox size="small" color="primary" checked={Boolean(persist && token)} disabled={!token}
            onChange={(e) => this.setState({ persist: e.target.checked })} />}
          label={<span style={{ fontSize: 13 }}>{token ? 'Save results on the server' : 'Save results (needs an access token)'}</span>} />
        <div style={rowStyle}>
          <Button variant="contained" color="primary" data-testid="annoserver-analyze" disabled={busy || !chosen.size || !canvas}
            onClick={() => this.analyse()}>
            {busy ? 'Analysing…' : 'Analyse'}
          </Button>
          {enhanced && (
            <Button size="small" variant="outlined" data-testid="annoserver-enhanced" onClick={() => this.openEnhanced()}
              title="The drawn region, else the part in view, super-resolved by the server (a new tab)">
              Enhanced view
            </Button>
          )}
        </div>
        <div aria-live="polite" data-testid="annoserver-analyze-status">
          {message && <Typography variant="body2">{message}</Typography>}
          {error && <Typography variant="body2" color="error" role="alert">{error}</Typography>}
        </div>
      </section>
    );
  }

  similarSummary(response, count) {
    const model = response.model ? `${response.model.id}${response.model.version ? ` ${response.model.version}` : ''}` : 'the embedding model';
    const where = response.scope === 'manifest' ? 'in this manifest' : 'in all manifests';
    const searched = Number(response.searched) || 0;
    if (!count) {
      return `Nothing similar ${where}: ${searched} stored vector${searched === 1 ? '' : 's'} of ${model} searched. `
        + 'Vectors are stored by whole-manifest jobs and by analyses saved on the server with an embedding model.';
    }
    return `${count} most similar ${where} (${model}, ${searched} stored vector${searched === 1 ? '' : 's'} searched), best first:`;
  }

  renderSimilarRow(row) {
    const { setCanvas, addWindow, canvases } = this.props;
    const { brokenThumbnails } = this.state;
    const shown = canvases.some((c) => c.id === row.canvas);
    const thumbnail = row.thumbnail && !brokenThumbnails[row.key]
      ? (
        <img src={row.thumbnail} alt="" style={thumbStyle}
          onError={() => this.setState(({ brokenThumbnails: b }) => ({ brokenThumbnails: { ...b, [row.key]: true } }))} />
      )
      : <span style={thumbStyle} aria-hidden="true" />;
    const text = (
      <ListItemText
        primary={`${row.rank}. ${row.canvasLabel}${row.region ? ` · image region ${row.region}` : ''}`}
        secondary={`score ${formatScore(row.score)} · ${row.manifestLabel}${row.here && shown ? ' (shown)' : ''}`}
        primaryTypographyProps={{ style: { wordBreak: 'break-word' } }}
        secondaryTypographyProps={{ style: { wordBreak: 'break-word' } }} />
    );
    const data = {
      'data-canvas': row.canvas, 'data-score': row.score, 'data-here': row.here, 'data-region': row.region || 'full',
    };
    if (row.here) {
      return (
        <ListItem key={row.key} button disableGutters selected={shown} onClick={() => setCanvas(row.canvas)}
          title={`Show ${row.canvasLabel}`} {...data}>
          {thumbnail}
          {text}
        </ListItem>
      );
    }
    return (
      <ListItem key={row.key} disableGutters style={{ flexWrap: 'wrap' }} {...data}>
        {thumbnail}
        {text}
        {row.manifest && (
          <Button size="small" variant="outlined" style={{ marginLeft: 74 }}
            aria-label={`Open its manifest, ${row.manifestLabel}, in a new window`}
            onClick={() => addWindow(row.manifest)}>
            Open its manifest
          </Button>
        )}
      </ListItem>
    );
  }

  renderSimilar() {
    const { windowId, view, canvases } = this.props;
    const { similar, similarScope, models } = this.state;
    const canvas = this.targetCanvas();
    const noModel = Array.isArray(models) && models.length > 0 && embeddingModels(models).length === 0;
    const { region } = view.w;
    const onRegion = Boolean(region && canvas && region.canvasId === canvas.id);
    const rows = similar && similar.response
      ? similarRows(similar.response, this.props.manifestCanvases, this.props.manifestTitles) : [];
    const titleId = domId(windowId, 'similar-title');
    return (
      <section style={sectionStyle} aria-labelledby={titleId} data-testid="annoserver-similar-panel">
        <SectionTitle id={titleId}>Find similar</SectionTitle>
        <Typography variant="body2" color="textSecondary">
          {canvas
            ? `Canvases and regions that look like ${onRegion ? `the drawn region of ${canvas.label || 'this canvas'}` : (canvas.label || 'this canvas')}.`
            : 'No canvas is shown.'}
        </Typography>
        <FormControlLabel
          control={(
            <Checkbox size="small" color="primary" checked={similarScope === 'manifest'}
              onChange={(e) => this.setState({ similarScope: e.target.checked ? 'manifest' : 'all' })} />
          )}
          label={<span style={{ fontSize: 13 }}>Only in this manifest</span>} />
        <div style={rowStyle}>
          <Button size="small" variant="outlined" color="primary" data-testid="annoserver-similar"
            disabled={Boolean((similar && similar.busy) || !canvas || canvases.length === 0 || noModel)}
            onClick={() => this.findSimilar()}>
            {similar && similar.busy ? 'Searching…' : `Find similar${onRegion ? ' to the region' : ''}`}
          </Button>
        </div>
        {noModel && (
          <Typography variant="caption" color="textSecondary" component="p">No model on the server computes embeddings.</Typography>
        )}
        <div aria-live="polite" data-testid="annoserver-similar-status" style={{ marginTop: 4 }}>
          {similar && similar.busy && <LinearProgress aria-label="Searching for similar images" />}
          {similar && similar.response && (
            <Typography variant="body2">{this.similarSummary(similar.response, rows.length)}</Typography>
          )}
          {similar && similar.error && <Typography variant="body2" color="error" role="alert">{similar.error}</Typography>}
        </div>
        {rows.length > 0 && (
          <List dense disablePadding data-testid="annoserver-similar-results"
            aria-label={`Similar to ${similar.query}, most similar first`} style={{ maxHeight: 360, overflowY: 'auto' }}>
            {rows.map((row) => this.renderSimilarRow(row))}
          </List>
        )}
      </section>
    );
  }

  renderJob() {
    const { windowId, addWindow } = this.props;
    const { job, token } = this.state;
    const percent = job && job.total ? Math.round((100 * (job.done || 0)) / job.total) : 0;
    return (
      <section style={sectionStyle} aria-labelledby={domId(windowId, 'job-title')}>
        <SectionTitle id={domId(windowId, 'job-title')}>Whole manifest</SectionTitle>
        <Button size="small" variant="outlined" disabled={!token || (job && !FINAL_JOB_STATES.includes(job.state) && job.state !== 'unknown')}
          onClick={() => this.startJob()}>
          Enrich every canvas with the chosen models
        </Button>
        {!token && <Typography variant="caption" component="p" color="textSecondary">Needs an access token.</Typography>}
        {job && (
          <div aria-live="polite" style={{ marginTop: 6 }} data-testid="annoserver-job">
            <LinearProgress variant={job.total ? 'determinate' : 'indeterminate'} value={percent}
              aria-label="Job progress" />
            <Typography variant="body2" data-testid="annoserver-job-progress">
              {jobProgressText(job)}
            </Typography>
            {job.error && <Typography variant="body2" color="error">{job.error}</Typography>}
            <div style={rowStyle}>
              {job.job && !FINAL_JOB_STATES.includes(job.state) && (
                <Button size="small" onClick={() => this.cancelJob()}>Cancel</Button>
              )}
              {job.manifest && job.state === 'done' && (
                <Button size="small" variant="outlined" onClick={() => addWindow(job.manifest)}>
                  Open the enriched manifest
                </Button>
              )}
            </div>
          </div>
        )}
      </section>
    );
  }

  renderToken() {
    const { windowId } = this.props;
    const { token, tokenDraft } = this.state;
    return (
      <section style={sectionStyle} aria-labelledby={domId(windowId, 'token-title')}>
        <SectionTitle id={domId(windowId, 'token-title')}>Access token</SectionTitle>
        <form onSubmit={(e) => this.saveToken(e)} style={rowStyle}>
          <TextField id={domId(windowId, 'token')} type="password" size="small"
            label={token ? 'Replace the token' : 'Bearer token'}
            autoComplete="off" value={tokenDraft} style={{ flex: 1 }}
            inputProps={{ 'data-testid': 'annoserver-token' }}
            onChange={(e) => this.setState({ tokenDraft: e.target.value })} />
          <Button size="small" type="submit" variant="outlined" disabled={!tokenDraft.trim()}>Use</Button>
          {token && <Button size="small" onClick={() => this.forgetToken()}>Forget</Button>}
        </form>
        <Typography variant="caption" color="textSecondary" component="p">
          {token ? 'A token is set for this browser session.' : 'Reading needs no token; saving and reviewing do. Kept only for this browser session.'}
        </Typography>
      </section>
    );
  }

  render() {
    return (
      <div className="annoserver-panel" style={{ overflowY: 'auto' }}>
        {this.renderLayers()}
        {this.renderFilters()}
        {this.renderList()}
        {this.renderDetails()}
        <Divider />
        {this.renderAnalyse()}
        <Divider />
        {this.renderSimilar()}
        <Divider />
        {this.renderJob()}
        <Divider />
        {this.renderToken()}
      </div>
    );
  }
}

Panel.defaultProps = {
  canvases: [],
  manifest: null,
  manifestCanvases: [],
  manifestTitles: {},
  addWindow: () => {},
  setCanvas: () => {},
  receiveAnnotation: () => {},
};
