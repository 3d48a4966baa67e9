using CometMpm.Events;
using CometMpm.Transport;

namespace CometMpm.Datasets;

/// <summary>The checked arguments of a CSV upload: the endpoint and the text fields of protocol §10.1, in order.</summary>
internal static class DatasetUploadRequest
{
    /// <exception cref="ArgumentException">An argument is missing or invalid (nothing has been read or sent).</exception>
    public static (string RelativePath, List<KeyValuePair<string, string>> Fields) Prepare(
        ModelIdentity model,
        string filePath,
        DatasetType datasetType,
        string? datasetName,
        string? naValues,
        bool? keepDefaultNaValues)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        var relativePath = datasetType switch
        {
            DatasetType.Events => MpmTransport.EventsCsvPath,
            DatasetType.LateLabels => MpmTransport.LabelsCsvPath,
            DatasetType.TrainingEvents => MpmTransport.DatasetCsvPath,
            _ => throw new ArgumentOutOfRangeException(nameof(datasetType), datasetType, "datasetType must be Events, LateLabels or TrainingEvents."),
        };
        if (datasetType == DatasetType.TrainingEvents && string.IsNullOrWhiteSpace(datasetName))
        {
            throw new ArgumentException(
                "datasetName is required for TrainingEvents: it names the reference dataset of the production model (CometMpm:ModelName).",
                nameof(datasetName));
        }

        if (datasetName is not null && string.IsNullOrWhiteSpace(datasetName))
        {
            throw new ArgumentException("datasetName is blank: pass a name or null.", nameof(datasetName));
        }

        // EVENTS and LATE_LABELS with a dataset name: the name replaces the model name (protocol §10.1).
        var modelName = datasetType != DatasetType.TrainingEvents && datasetName is not null ? datasetName : model.ModelName;
        var fields = new List<KeyValuePair<string, string>>(6)
        {
            new("workspaceName", model.WorkspaceName),
            new("modelName", modelName),
            new("modelVersion", model.ModelVersion),
        };
        if (datasetType == DatasetType.TrainingEvents)
        {
            fields.Add(new("datasetName", datasetName!));
        }

        if (naValues is not null)
        {
            fields.Add(new("NAValues", naValues));
        }

        if (keepDefaultNaValues is { } keep)
        {
            // Python's str(bool), which the server parses.
            fields.Add(new("keepDefaultNAValues", keep ? "True" : "False"));
        }

        return (relativePath, fields);
    }
}
