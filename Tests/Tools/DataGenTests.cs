using NUnit.Framework;
using T2X.DataGen;

namespace T2X.Tests.Tools;

/// <summary>The built-in model's training data: captions follow the grammar and say what was drawn.</summary>
public class DataGenTests
{
    const int Size = 64;

    [Test]
    public void CaptionsParseBackToTheDrawnScene()
    {
        for (int i = 0; i < 500; i++)
        {
            var scene = Scene.ForIndex(seed: 7, i);
            var meaning = CaptionParser.Parse(scene.Caption);
            Assert.That(meaning.Objects, Is.EqualTo(scene.Objects.Select(o => (o.Color, o.Shape, o.Cell))), scene.Caption);
            Assert.That(meaning.Background, Is.EqualTo(scene.BackgroundNamed ? scene.Background : null), scene.Caption);

            // What the image shows: every named color in its cell, every shape right, the named background.
            var image = SceneRenderer.Render(scene, Size);
            var seen = AdherenceChecker.Check(image, Size, meaning);
            Assert.That(seen.AllColors, Is.True, $"{scene.Caption}: colors {string.Join(",", seen.ColorInCell)} background {seen.BackgroundRight}");
            Assert.That(seen.AllShapes, Is.True, $"{scene.Caption}: saw {string.Join(",", seen.ShapeSeen)}");
        }
    }

    [Test]
    public void ScenesKeepTheGrammarRules()
    {
        int backgroundNamed = 0, twoObjects = 0;
        for (int i = 0; i < 2000; i++)
        {
            var scene = Scene.ForIndex(seed: 3, i);
            var colors = scene.Objects.Select(o => o.Color).ToList();
            Assert.That(scene.Objects.Count, Is.InRange(1, 2));
            Assert.That(scene.Objects.Select(o => o.Cell).Distinct().Count(), Is.EqualTo(scene.Objects.Count), "cells differ");
            Assert.That(colors.Distinct().Count(), Is.EqualTo(colors.Count), "object colors differ");
            Assert.That(colors, Does.Not.Contain(scene.Background), "background differs from the objects");
            foreach (var o in scene.Objects)
            {
                double half = o.Size / 2, cellX = (o.Cell % 3 + 0.5) / 3, cellY = (o.Cell / 3 + 0.5) / 3;
                Assert.That(o.Size, Is.InRange(Scene.MinSize, Scene.MaxSize), "about a quarter of the side");
                Assert.That(Math.Abs(o.CenterX - cellX), Is.LessThanOrEqualTo(Scene.MaxJitter), "centred in its cell");
                Assert.That(Math.Abs(o.CenterY - cellY), Is.LessThanOrEqualTo(Scene.MaxJitter), "centred in its cell");
                Assert.That(o.CenterX - half, Is.GreaterThanOrEqualTo(0), "inside"); Assert.That(o.CenterX + half, Is.LessThanOrEqualTo(1), "inside");
                Assert.That(o.CenterY - half, Is.GreaterThanOrEqualTo(0), "inside"); Assert.That(o.CenterY + half, Is.LessThanOrEqualTo(1), "inside");
            }
            if (scene.BackgroundNamed) backgroundNamed++;
            if (scene.Objects.Count == 2) twoObjects++;
        }
        Assert.That(backgroundNamed, Is.InRange(800, 1200), "background phrase about half the time");
        Assert.That(twoObjects, Is.InRange(800, 1200), "two objects about half the time");
    }

    [Test]
    public void UnnamedBackgroundIsARandomColorOtherThanTheObjects()
    {
        var seenBackgrounds = new HashSet<int>();
        for (int i = 0; i < 300; i++)
        {
            var scene = Scene.ForIndex(seed: 11, i);
            if (scene.BackgroundNamed) continue;
            Assert.That(scene.Caption, Does.Not.Contain("background"));
            var image = SceneRenderer.Render(scene, Size);
            Assert.That(AdherenceChecker.NearestColor(image[0], image[1], image[2]), Is.EqualTo(scene.Background),
                "a corner pixel (never covered: shapes stay inside their cells) shows the background");
            seenBackgrounds.Add(scene.Background);
        }
        Assert.That(seenBackgrounds, Has.Count.EqualTo(Grammar.Colors.Length), "every color occurs as a background");
    }

    [Test]
    public void SameSeedSameData_DifferentSeedDifferentData()
    {
        for (int i = 0; i < 20; i++)
        {
            Assert.That(SceneRenderer.Render(Scene.ForIndex(5, i), Size), Is.EqualTo(SceneRenderer.Render(Scene.ForIndex(5, i), Size)));
            Assert.That(Scene.ForIndex(5, i).Caption, Is.EqualTo(Scene.ForIndex(5, i).Caption));
        }
        int same = Enumerable.Range(0, 50).Count(i => Scene.ForIndex(5, i) == Scene.ForIndex(6, i));
        Assert.That(same, Is.LessThan(5));
    }

    [Test]
    public void CheckerRejectsWrongColorShapeAndBackground()
    {
        // A square drawn where the caption asks for a circle of another color, on another background.
        var scene = new Scene([new SceneObject(Color: 0, Shape: 1, Cell: 4, 0.5, 0.5, 0.25)], Background: 2, BackgroundNamed: true);
        var image = SceneRenderer.Render(scene, Size);
        Assert.That(AdherenceChecker.Check(image, Size, CaptionParser.Parse("a red square in the center on a blue background")).AllShapes, Is.True);
        var wrong = AdherenceChecker.Check(image, Size, CaptionParser.Parse("a green circle in the center on a white background"));
        Assert.That(wrong.ColorInCell[0], Is.False);
        Assert.That(wrong.ShapeRight[0], Is.False);
        Assert.That(wrong.BackgroundRight, Is.False);
        var wrongShape = AdherenceChecker.Check(image, Size, CaptionParser.Parse("a red triangle in the center"));
        Assert.That(wrongShape.ColorInCell[0], Is.True);
        Assert.That(wrongShape.ShapeSeen[0], Is.EqualTo("square"));
        Assert.That(AdherenceChecker.Check(image, Size, CaptionParser.Parse("a red square at the top")).ColorInCell[0], Is.False, "wrong cell");
    }

    [TestCase("a red circle")]
    [TestCase("a purple circle in the center")]
    [TestCase("a red hexagon in the center")]
    [TestCase("a red circle in the middle")]
    [TestCase("a red circle in the center on a pink background")]
    [TestCase("a red circle in the center and a blue square at the top and a green circle at the bottom")]
    public void ParserRejectsTextOutsideTheGrammar(string caption) =>
        Assert.Throws<FormatException>(() => CaptionParser.Parse(caption));

    [Test]
    public void VocabularyCoversEveryCaptionWord()
    {
        for (int i = 0; i < 300; i++)
            foreach (var word in Scene.ForIndex(1, i).Caption.Split(' '))
                Assert.That(Grammar.Words, Does.Contain(word));
        Assert.That(Grammar.Words.Distinct().Count(), Is.EqualTo(Grammar.Words.Length));
    }
}
