"""Web pages as documentation sites write them: the content kept, the site around it left out, code
kept character for character, definition lists as entries."""
from __future__ import annotations

import pytest

from ingest.loaders import load_bytes

# A page laid out as Sphinx's Read the Docs theme lays one out: the content column's class has
# "nav" in it, the page's navigation, breadcrumbs, "Edit on GitHub" and footer around it.
SPHINX_PAGE = """<!DOCTYPE html><html><head><title>paths — widget 4.2 documentation</title>
<script>var x = 1;</script><style>.a{}</style></head><body>
<a class="skip-link screen-reader-text" href="#content">Skip to main content</a>
<div class="wy-grid-for-nav">
<nav data-toggle="wy-nav-shift" class="wy-nav-side"><div class="wy-side-scroll"><div class="wy-menu wy-menu-vertical" role="navigation">
<p class="caption"><span class="caption-text">Contents:</span></p><ul><li class="toctree-l1"><a href="install.html">Installing</a></li>
<li class="toctree-l1 current"><a href="#">paths</a></li></ul></div></div></nav>
<section data-toggle="wy-nav-shift" class="wy-nav-content-wrap"><div class="wy-nav-content"><div class="rst-content">
<div role="navigation" aria-label="Page navigation"><ul class="wy-breadcrumbs"><li><a href="index.html">Docs</a> &raquo;</li>
<li>paths</li><li class="wy-breadcrumbs-aside"><a href="https://github.com/x/y/blob/main/paths.rst">Edit on GitHub</a></li></ul><hr/></div>
<div role="main" class="document"><div itemprop="articleBody">
<section id="paths"><h1>paths<a class="headerlink" href="#paths" title="Permalink to this heading">\u00b6</a></h1>
<p>The <code class="docutils literal notranslate"><span class="pre">paths</span></code> module joins <em>and</em> splits file names.
Use <code class="xref py py-func"><span class="pre">join()</span></code> for <b>portable</b> names.</p>
<div class="highlight-python notranslate"><div class="highlight"><pre><span></span><span class="kn">from</span> <span class="nn">widget</span> <span class="kn">import</span> <span class="n">paths</span>
<span class="n">paths</span><span class="o">.</span><span class="n">join</span><span class="p">(</span><span class="s2">&quot;a&quot;</span><span class="p">,</span>  <span class="s2">&quot;b.txt&quot;</span><span class="p">)</span>
</pre></div></div>
<dl class="py function"><dt class="sig sig-object py" id="paths.join"><span class="sig-prename descclassname"><span class="pre">paths.</span></span><span class="sig-name descname"><span class="pre">join</span></span><span class="sig-paren">(</span><em class="sig-param"><span class="n"><span class="pre">path</span></span></em>, <em class="sig-param"><span class="o"><span class="pre">*</span></span><span class="n"><span class="pre">paths</span></span></em><span class="sig-paren">)</span><a class="headerlink" href="#paths.join" title="Link to this definition">\u00b6</a></dt>
<dd><p>Join one or more path segments.</p>
<p>Returns a <code class="docutils literal"><span class="pre">str</span></code>.</p></dd></dl>
<dl><dt>-r, --recursive</dt><dd>remove directories and their contents recursively</dd>
<dt>-f</dt><dt>--force</dt><dd><p>ignore nonexistent files</p><p>never prompt</p></dd></dl>
<ul><li>a list item with <a href="x.html">a link</a> in it</li><li><a href="y.html">a link alone is content in a list of text</a></li></ul>
<table><tr><th>Name</th><th>Default</th></tr><tr><td><code>sep</code></td><td><code>"/"</code></td></tr></table>
</section></div></div>
<footer><div class="rst-footer-buttons" role="navigation" aria-label="Footer"><a href="install.html" class="btn" rel="prev">Previous</a>
<a href="api.html" class="btn" rel="next">Next</a></div><hr/><div role="contentinfo"><p>&#169; Copyright 2026, Widget authors.</p></div>
Built with <a href="https://www.sphinx-doc.org/">Sphinx</a>.</footer>
</div></div></section></div>
<div class="cookie-consent"><p>This site uses cookies. <a href="#">Accept</a></p></div>
</body></html>"""


@pytest.fixture(scope="module")
def sphinx():
    return load_bytes(SPHINX_PAGE.encode(), "paths.html", ".html")


def test_the_content_is_kept_and_its_headings_are_markdown_headings(sphinx):
    assert sphinx.text.startswith("# paths\n\n")  # the headerlink's pilcrow is not part of the heading
    assert "The paths module joins and splits file names. Use join() for portable names." in sphinx.text
    assert sphinx.meta["title"] == "paths — widget 4.2 documentation"


@pytest.mark.parametrize("furniture", [
    "Skip to main content", "Installing", "Contents:", "Docs", "Edit on GitHub", "Previous", "Next",
    "Copyright", "Sphinx", "cookies", "Accept", "\u00b6", "var x", ".a{}",
])
def test_the_site_around_the_content_is_left_out(sphinx, furniture):
    assert furniture not in sphinx.text


def test_a_pre_block_is_a_fence_with_its_characters_kept(sphinx):
    code = 'from widget import paths\npaths.join("a",  "b.txt")'  # two spaces kept, no space around the brackets
    assert f"```\n{code}\n```" in sphinx.text


def test_a_definition_list_is_entries_of_term_and_indented_description(sphinx):
    assert "paths.join(path, *paths)\n    Join one or more path segments.\n    Returns a str." in sphinx.text
    assert "-r, --recursive\n    remove directories and their contents recursively" in sphinx.text
    assert "-f, --force\n    ignore nonexistent files\n    never prompt" in sphinx.text  # two terms, one description
    blocks = sphinx.text.split("\n\n")
    assert "-r, --recursive\n    remove directories and their contents recursively" in blocks  # an entry is one block


def test_lists_and_tables_of_content_stay(sphinx):
    assert "- a list item with a link in it" in sphinx.text
    assert "- a link alone is content in a list of text" in sphinx.text
    assert 'Name: sep | Default: "/"' in sphinx.text


@pytest.mark.parametrize("html, kept, dropped", [
    # by tag
    ("<header><p>Site name</p></header><main><p>Body text.</p></main><aside><p>Related posts</p></aside>",
     "Body text.", "Site name"),
    # by class name: a table of contents, a sidebar, an "on this page" box
    ('<div class="md-sidebar md-sidebar--secondary"><p>Table of contents</p><ul><li><a href="#a">Usage</a></li></ul></div>'
     '<article><h1>Usage</h1><p>Run it.</p></article>', "# Usage\n\nRun it.", "Table of contents"),
    ('<div id="toc"><a href="#a">Usage</a></div><p>Run it.</p>', "Run it.", "Usage"),
    # a list of links alone, outside any named block: a menu
    ('<ul><li><a href="/">Home</a></li><li><a href="/blog">Blog</a></li><li><a href="/about">About us</a></li></ul><p>Body.</p>',
     "Body.", "Blog"),
    # a short paragraph of links alone
    ('<p>Body.</p><p><a href="p">« Previous</a> | <a href="n">Next »</a></p>', "Body.", "Previous"),
    # a block that holds the content is kept though its name looks like furniture
    ('<div class="nav-content"><main><p>Body.</p></main></div>', "Body.", "nothing"),
    # the role of a block
    ('<div role="banner"><p>Brand</p></div><div role="complementary"><p>Ads</p></div><p>Body.</p>', "Body.", "Brand"),
    # an article's own header holds its title: kept; a sidebar of article cards is still a sidebar
    ('<article><header><h1>Release notes</h1></header><p>Body.</p></article>', "# Release notes\n\nBody.", "nothing"),
    ('<p>Body.</p><div class="sidebar"><article><h3>Other post</h3><p>Teaser.</p></article></div>', "Body.", "Teaser"),
    # a form around the whole page (ASP.NET) is not furniture; its controls are
    ('<form id="aspnetForm"><p>Body.</p><select><option>English</option></select></form>', "Body.", "English"),
])
def test_site_furniture_is_found_by_tag_role_name_and_shape(html, kept, dropped):
    text = load_bytes(f"<html><body>{html}</body></html>".encode(), "p.html", ".html").text
    assert kept in text and dropped not in text, text


def test_inline_elements_are_joined_without_spaces_of_their_own():
    html = "<p>Hello <b>world</b>. Call <code>f(<span>x</span>)</code>, then <a href='#'>g</a>!</p>"
    assert load_bytes(html.encode(), "p.html", ".html").text == "Hello world. Call f(x), then g!"


def test_a_fence_is_longer_than_the_backticks_inside_the_code():
    text = load_bytes(b"<pre>\nuse ``` to fence\n</pre>", "p.html", ".html").text
    assert text == "````\nuse ``` to fence\n````"


def test_text_without_block_tags_is_kept():
    assert load_bytes(b"<html><body>Just some text.</body></html>", "p.html", ".html").text == "Just some text."


def test_text_wrapped_in_thousands_of_divs_is_read():
    html = "<html><body>" + "<div>" * 3000 + "<p>Deep <b>text</b>.</p>" + "</div>" * 3000 + "</body></html>"
    assert load_bytes(html.encode(), "p.html", ".html").text == "Deep text."


def test_code_beside_its_line_numbers_is_one_fence_without_them():
    html = ('<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv"><pre>1\n2</pre></div></td>'
            '<td class="code"><div class="highlight"><pre><span class="k">def</span> <span class="nf">f</span>():\n'
            '    <span class="k">pass</span>\n</pre></div></td></tr></table>')
    assert load_bytes(html.encode(), "p.html", ".html").text == "```\ndef f():\n    pass\n```"


def test_paragraphs_inside_a_table_cell_keep_a_space_between_them():
    html = "<table><tr><th>Name</th><th>Notes</th></tr><tr><td>a</td><td><p>First.</p><p>Second.</p></td></tr></table>"
    assert "Name: a | Notes: First. Second." in load_bytes(html.encode(), "p.html", ".html").text


def test_a_source_link_beside_a_signature_is_left_out():
    html = ('<dl><dt>paths.join(path)<a href="_modules/paths.html"><span class="viewcode-link">[source]</span></a></dt>'
            '<dd><p>Join.</p></dd></dl>')
    assert load_bytes(html.encode(), "p.html", ".html").text == "paths.join(path)\n    Join."


@pytest.mark.parametrize("html", [
    '<section id="cookies"><h2>Cookies</h2><p>A server sets a cookie with Set-Cookie.</p></section>',
    '<div class="section" id="pagination"><h2>Pagination</h2><p>Pages hold 50 items.</p></div>',
    '<dl><dt id="menu">Menu</dt><dd>A widget of choices.</dd></dl>',
    '<h2 id="navigation">Navigation</h2><p>Move with the arrow keys.</p>',
])
def test_a_section_named_after_its_title_is_content_whatever_its_title(html):
    text = load_bytes(f"<html><body>{html}</body></html>".encode(), "p.html", ".html").text
    assert text.split("\n\n")[-1].strip() in ("A server sets a cookie with Set-Cookie.", "Pages hold 50 items.",
                                              "Menu\n    A widget of choices.", "Move with the arrow keys.")
    assert len(text.split("\n\n")) == (1 if "<dl>" in html else 2)


def test_a_heading_keeps_its_own_marks_and_loses_its_permalink():
    html = '<h2 id="cs">C#<a class="hash-link" href="#cs">#</a></h2><h2>Notes<a href="#notes">\u00a7</a></h2><p>Body.</p>'
    assert load_bytes(html.encode(), "p.html", ".html").text == "## C#\n\n## Notes\n\nBody."


@pytest.mark.parametrize("notice, kept", [
    ("We use cookies to improve your experience.", False),
    ("This website uses cookies. Read our cookie policy.", False),
    ("Cookies help us deliver our services. Accept all | Reject all", False),
    ("The server sets a cookie, and the browser will accept it only over HTTPS.", True),  # a text about cookies
    ("A cookie has a name, a value and attributes such as its expiry date.", True),
])
def test_a_cookie_notice_is_left_out_and_a_text_about_cookies_is_kept(notice, kept):
    text = load_bytes(f"<p>Body.</p><p>{notice}</p>".encode(), "p.html", ".html").text
    assert (notice in text) is kept


def test_a_table_that_lays_the_page_out_is_read_as_its_cells_content():
    html = ("<table><tr><td><h1>Widget news</h1><p>The widget ships in spring.</p><pre>make  install</pre></td>"
            "<td><table><tr><th>Size</th><th>Price</th></tr><tr><td>small</td><td>3</td></tr></table></td></tr></table>")
    assert load_bytes(html.encode(), "p.html", ".html").text.split("\n\n") == [
        "# Widget news", "The widget ships in spring.", "```\nmake  install\n```", "Size | Price", "Size: small | Price: 3"]
