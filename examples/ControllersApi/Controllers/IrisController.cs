using CometMpm.AspNetCore;
using Examples.Iris;
using Microsoft.AspNetCore.Mvc;

namespace ControllersApi.Controllers;

/// <summary>Serves the Iris model; every prediction is captured for Comet MPM by the attribute.</summary>
[ApiController]
[Route("iris")]
public sealed class IrisController(IrisModel model) : ControllerBase
{
    /// <summary>POST /iris/predict: the species of a flower. The X-Prediction-Id response header names the prediction.</summary>
    [HttpPost("predict")]
    [CometMpmPrediction] // input features from the body (IrisFeatures), output features from the result (IrisPrediction)
    public ActionResult<IrisPrediction> Predict(IrisFeatures flower) => model.Predict(flower);

    /// <summary>GET /iris: what the model is and how accurate it was on held-out rows.</summary>
    [HttpGet]
    public IActionResult Describe() =>
        Ok(new { model = "iris-classifier (ML.NET SDCA maximum entropy)", accuracy = Math.Round(model.Accuracy, 4), model.TrainingRows, model.TestRows });
}
