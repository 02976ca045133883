"""The app's look: a Gradio theme with local fonts only (the app runs offline) and a little CSS."""
from __future__ import annotations

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
footer { display: none !important; }
#rb-header-block .html-container { padding-left: 0 !important; padding-right: 0 !important; }
#rb-header { padding: 0; }
#rb-header h1 { font-size: 1.6rem; margin: 0; letter-spacing: -0.01em; }
#rb-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); }
#rb-status { font-size: 0.9rem; }
#rb-status p { margin: 0; }

/* Citation markers in answers */
.rb-cite { display: inline-block; font-size: 0.72em; font-weight: 600; line-height: 1;
  padding: 1px 3px; margin: 0 0 0 2px; border-radius: 4px; vertical-align: super;
  background: #e0e7ff; color: #3730a3; }

/* A refusal, an error and a notice look unlike an answer */
.rb-badge { display: inline-block; font-size: 0.75em; font-weight: 600; letter-spacing: 0.02em;
  text-transform: uppercase; padding: 2px 8px; border-radius: 999px; margin-right: 6px; vertical-align: 1px; }
.rb-refusal-msg { background: #fef3c7; color: #92400e; }
.rb-error-msg { background: #fee2e2; color: #991b1b; }
.rb-notice-msg { background: #dbeafe; color: #1e40af; }
/* How sure an answer is: a small dot and a word, the figure in the tooltip */
.rb-sure { display: inline-block; font-size: 0.72em; color: var(--body-text-color-subdued); margin-left: 4px;
  white-space: nowrap; vertical-align: 1px; cursor: help; }
.rb-sure::before { content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; margin-right: 4px;
  vertical-align: 1px; }
.rb-sure-high::before { background: #16a34a; }
.rb-sure-mid::before { background: #ca8a04; }
.rb-sure-low::before { background: #dc2626; }
#rb-chat .bot.message:has(.rb-refusal-msg) { background: #fffbeb !important; border-color: #fcd34d !important; border-style: dashed !important; }
#rb-chat .bot.message:has(.rb-error-msg) { background: #fef2f2 !important; border-color: #fca5a5 !important; }

/* Sources panel */
#rb-sources-title h3 { margin: 0 0 4px; }
#rb-sources { max-height: 720px; overflow-y: auto; padding-right: 4px; }
.rb-sources { display: flex; flex-direction: column; gap: 10px; }
.rb-source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
  background: var(--background-fill-primary); }
.rb-source.rb-dim { opacity: 0.75; }
.rb-source-head { display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px; margin-bottom: 6px; font-size: 0.88rem; }
.rb-n { font-weight: 700; color: var(--color-accent); }
.rb-source-head .rb-file { margin-left: 4px; }
.rb-file { font-weight: 600; word-break: break-all; }
.rb-section { color: var(--body-text-color-subdued); }
.rb-page { color: var(--body-text-color-subdued); font-variant-numeric: tabular-nums; }
.rb-passage { font-size: 0.9rem; line-height: 1.5; white-space: pre-wrap; }
mark.rb-quote { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
.rb-quote-alone { margin-bottom: 6px; font-size: 0.9rem; }
.rb-context summary { cursor: pointer; font-size: 0.82rem; color: var(--color-accent); margin-top: 6px; }
.rb-doc { font-size: 0.85rem; line-height: 1.5; white-space: pre-wrap; max-height: 320px; overflow-y: auto;
  margin-top: 6px; padding: 8px; border-radius: 6px; background: var(--background-fill-secondary); }
.rb-span { background: rgba(99, 102, 241, 0.12); border-radius: 2px; }
.rb-refusal { border: 1px dashed #f59e0b; background: #fffbeb; color: #78350f; border-radius: 8px; padding: 10px 12px; font-size: 0.9rem; }
.rb-error { border: 1px solid #fca5a5; background: #fef2f2; color: #991b1b; border-radius: 8px; padding: 10px 12px; font-size: 0.9rem; }
.rb-notice { border: 1px solid #93c5fd; background: #eff6ff; color: #1e3a8a; border-radius: 8px; padding: 8px 12px; font-size: 0.88rem; }
.rb-muted { color: var(--body-text-color-subdued); font-size: 0.88rem; margin: 0; }
"""


def make_theme():
    """A calm theme with system and bundled fonts; nothing is fetched from the internet."""
    import gradio as gr

    return gr.themes.Default(
        primary_hue="indigo",
        neutral_hue="slate",
        radius_size="md",
        font=[gr.themes.LocalFont("IBM Plex Sans"), "ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=[gr.themes.LocalFont("IBM Plex Mono"), "ui-monospace", "monospace"],
    )
