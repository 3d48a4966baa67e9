using System.Globalization;
using System.Net;
using System.Text;
using CometMpm.Emulator.Persistence;
using CometMpm.Emulator.Serialization;

namespace CometMpm.Emulator.Inspection;

/// <summary>Renders the emulator's page on the server: inline CSS, a little inline JS, no external resources.</summary>
internal static class PageRenderer
{
    private const string Style = """
        body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1d2433}
        header{background:#1d2433;color:#fff;padding:14px 24px;display:flex;align-items:center;gap:16px}
        header h1{font-size:20px;margin:0} header code{background:#2e3850;padding:2px 6px;border-radius:4px}
        main{padding:16px 24px} h2{font-size:16px;margin:20px 0 8px}
        table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
        th,td{border-bottom:1px solid #e3e6ec;padding:5px 8px;text-align:left;vertical-align:top}
        th{background:#eef1f6} tr.sel td{background:#fff6db} a{color:#2457c5}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}
        .card{background:#fff;border:1px solid #e3e6ec;border-radius:6px;padding:10px}
        .card h3{margin:0 0 4px;font-size:14px} .muted{color:#6b7385;font-size:12px}
        .bar{display:flex;align-items:center;gap:6px;font-size:12px;margin:2px 0}
        .bar span.b{background:#4a7bd8;height:10px;display:inline-block;border-radius:2px}
        .bar span.l{width:90px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
        svg rect{fill:#4a7bd8} code.j{font-size:12px;white-space:pre-wrap;word-break:break-all}
        button{font:inherit;padding:4px 10px} .tools{margin-left:auto;display:flex;gap:10px;align-items:center;font-size:13px}
        """;

    private const string Script = """
        (function(){
          var box=document.getElementById('auto');
          box.checked=localStorage.getItem('mpm-auto')==='1';
          box.addEventListener('change',function(){localStorage.setItem('mpm-auto',box.checked?'1':'0');});
          setInterval(function(){if(box.checked){location.reload();}},5000);
          document.getElementById('clear').addEventListener('click',function(){
            if(confirm('Delete all stored data?')){fetch('/api/emulator/data',{method:'DELETE'}).then(function(){location.reload();});}
          });
          document.querySelectorAll('time[data-ms]').forEach(function(t){t.textContent=new Date(Number(t.dataset.ms)).toISOString();});
        })();
        """;

    public static string Render(
        MpmEmulatorOptions options, IReadOnlyList<EmulatorModelSummary> models, EmulatorModelSummary? selected,
        ModelStats? stats, IReadOnlyList<StoredRow> latest)
    {
        var html = new StringBuilder(16 * 1024);
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Comet MPM emulator</title><style>")
            .Append(Style).Append("</style></head><body><header><h1>Comet MPM emulator</h1><span>ingestion at <code>")
            .Append(E(options.NormalizedBasePath)).Append("</code></span><div class=\"tools\"><label><input type=\"checkbox\" id=\"auto\"> auto-refresh</label>")
            .Append("<button id=\"clear\">Clear data</button></div></header><main>");

        html.Append("<h2>Models</h2>");
        if (models.Count == 0)
        {
            html.Append("<p class=\"muted\" id=\"empty\">No data yet. Point a client at this server (COMET_URL_OVERRIDE) and send events.</p>");
        }
        else
        {
            html.Append("<table id=\"models\"><tr><th>workspace</th><th>model</th><th>version</th><th>predictions</th><th>labels</th><th>dataset rows</th></tr>");
            foreach (var m in models)
            {
                var link = $"/?workspace={Uri.EscapeDataString(m.Workspace)}&model={Uri.EscapeDataString(m.Model)}&version={Uri.EscapeDataString(m.Version)}";
                html.Append(m == selected ? "<tr class=\"sel\">" : "<tr>")
                    .Append("<td>").Append(E(m.Workspace)).Append("</td><td><a href=\"").Append(E(link)).Append("\">").Append(E(m.Model)).Append("</a></td><td>")
                    .Append(E(m.Version)).Append("</td><td>").Append(N(m.Predictions)).Append("</td><td>").Append(N(m.Labels))
                    .Append("</td><td>").Append(N(m.Datasets)).Append("</td></tr>");
            }

            html.Append("</table>");
        }

        if (selected is not null && stats is not null)
        {
            html.Append("<h2>Features of ").Append(E(selected.Model)).Append(' ').Append(E(selected.Version))
                .Append(" <span class=\"muted\">(latest ").Append(N(stats.SampledPredictions)).Append(" predictions)</span></h2><div class=\"grid\" id=\"features\">");
            foreach (var feature in stats.Features)
            {
                RenderFeature(html, feature);
            }

            html.Append("</div>");
        }

        if (latest.Count > 0)
        {
            html.Append("<h2>Latest predictions</h2><table id=\"latest\"><tr><th>#</th><th>predictionId</th><th>timestamp</th><th>features</th><th>prediction</th><th>labels</th></tr>");
            foreach (var row in latest)
            {
                html.Append("<tr><td>").Append(N(row.Sequence)).Append("</td><td>").Append(E(row.PredictionId))
                    .Append("</td><td><time data-ms=\"").Append(N(row.Timestamp)).Append("\">").Append(N(row.Timestamp)).Append("</time></td><td><code class=\"j\">")
                    .Append(E(row.Features ?? string.Empty)).Append("</code></td><td><code class=\"j\">").Append(E(row.Prediction ?? string.Empty))
                    .Append("</code></td><td><code class=\"j\">").Append(E(row.Labels ?? string.Empty)).Append("</code></td></tr>");
            }

            html.Append("</table>");
        }

        html.Append("</main><script>").Append(Script).Append("</script></body></html>");
        return html.ToString();
    }

    private static void RenderFeature(StringBuilder html, FeatureStats feature)
    {
        html.Append("<div class=\"card\" data-feature=\"").Append(E(feature.Name)).Append("\"><h3>").Append(E(feature.Name))
            .Append("</h3><div class=\"muted\">").Append(E(feature.Source)).Append(" · ").Append(E(feature.Kind)).Append(" · count ")
            .Append(N(feature.Count)).Append(" · missing ").Append(N(feature.Missing)).Append("</div>");
        if (feature.Histogram is { Count: > 0 } bins)
        {
            var max = Math.Max(1, bins.Max(b => b.Count));
            const int Width = 240, Height = 60;
            var barWidth = (double)Width / bins.Count;
            html.Append(CultureInfo.InvariantCulture, $"<svg width=\"{Width}\" height=\"{Height + 14}\" role=\"img\" aria-label=\"histogram\">");
            for (var i = 0; i < bins.Count; i++)
            {
                var h = Math.Max(1.0, (double)bins[i].Count / max * Height);
                html.Append(CultureInfo.InvariantCulture,
                    $"<rect x=\"{(i * barWidth) + 1:0.#}\" y=\"{Height - h:0.#}\" width=\"{barWidth - 2:0.#}\" height=\"{h:0.#}\"><title>{bins[i].From:G4} – {bins[i].To:G4}: {bins[i].Count}</title></rect>");
            }

            html.Append(CultureInfo.InvariantCulture,
                $"<text x=\"0\" y=\"{Height + 12}\" font-size=\"10\">{feature.Min:G6}</text><text x=\"{Width}\" y=\"{Height + 12}\" font-size=\"10\" text-anchor=\"end\">{feature.Max:G6}</text></svg>");
        }

        if (feature.Top is { Count: > 0 } top)
        {
            var max = Math.Max(1, top.Max(c => c.Count));
            foreach (var category in top)
            {
                html.Append("<div class=\"bar\"><span class=\"l\" title=\"").Append(E(category.Value)).Append("\">").Append(E(category.Value))
                    .Append(CultureInfo.InvariantCulture, $"</span><span class=\"b\" style=\"width:{Math.Max(2, category.Count * 120 / max)}px\"></span>{category.Count}</div>");
            }
        }

        html.Append("</div>");
    }

    private static string E(string value) => WebUtility.HtmlEncode(value);

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);
}
