using System.Text;
using NUnit.Framework;
using T2X.Vulkan.Presentation;

namespace T2X.Tests.Presentation;

/// <summary>The viewer's prompt field on its own: no window, keys as <see cref="PromptKey"/>s.</summary>
public sealed class PromptEditorTests
{
    static PromptEditor Editing(string prompt)
    {
        var editor = new PromptEditor();
        editor.Begin(prompt);
        return editor;
    }

    static void Type(PromptEditor editor, string text)
    {
        foreach (var rune in text.EnumerateRunes()) editor.Type(rune);
    }

    [Test]
    public void StartsFromThePromptWithTheCursorAtTheEnd()
    {
        var editor = Editing("a red circle");
        Assert.That((editor.IsEditing, editor.Text, editor.Cursor), Is.EqualTo((true, "a red circle", 12)));
        Assert.That(editor.WithCursor, Is.EqualTo("a red circle|"));
    }

    [Test]
    public void TypesAtTheCursorAndMovesIt()
    {
        var editor = Editing("a circle");
        editor.Press(PromptKey.Home);
        for (int i = 0; i < 2; i++) editor.Press(PromptKey.Right);
        Type(editor, "red ");
        Assert.That(editor.WithCursor, Is.EqualTo("a red |circle"));
        editor.Press(PromptKey.End);
        Type(editor, " 🌞");
        Assert.That(editor.Text, Is.EqualTo("a red circle 🌞"));
        Assert.That(editor.Cursor, Is.EqualTo(editor.Text.Length), "a character outside the BMP advances the cursor past both halves");
    }

    /// <summary>The field "abcd" after these keys (<see cref="PromptKey"/> names), the cursor shown as a bar.</summary>
    [TestCase("Left Backspace", ExpectedResult = "ab|d")]
    [TestCase("Left Backspace Delete", ExpectedResult = "ab|")]
    [TestCase("Home Delete Right", ExpectedResult = "b|cd")]
    [TestCase("Right Delete", ExpectedResult = "abcd|", Description = "at the end: nothing to the right")]
    [TestCase("Home Left Backspace", ExpectedResult = "|abcd", Description = "at the start: nothing to the left")]
    public string EditingKeys(string keys)
    {
        var editor = Editing("abcd");
        foreach (var key in keys.Split(' ')) editor.Press(Enum.Parse<PromptKey>(key));
        return editor.WithCursor;
    }

    [Test]
    public void ClearLineEmptiesTheField()
    {
        var editor = Editing("a red circle");
        editor.Press(PromptKey.ClearLine);
        Assert.That((editor.Text, editor.Cursor), Is.EqualTo(("", 0)));
        Type(editor, "cat");
        Assert.That(editor.Press(PromptKey.Submit), Is.EqualTo("cat"));
    }

    [Test]
    public void SubmitHandsBackThePromptAndEndsTheEdit()
    {
        var editor = Editing("a red circle");
        Assert.That(editor.Press(PromptKey.Backspace), Is.Null, "only Submit hands the prompt back");
        Assert.That(editor.Press(PromptKey.Submit), Is.EqualTo("a red circl"));
        Assert.That(editor.IsEditing, Is.False);
    }

    [Test]
    public void CancelEndsTheEditWithoutAPrompt()
    {
        var editor = Editing("a red circle");
        Type(editor, "!");
        Assert.That(editor.Press(PromptKey.Cancel), Is.Null);
        Assert.That(editor.IsEditing, Is.False);
        editor.Begin("again");
        Assert.That(editor.Text, Is.EqualTo("again"), "a new edit starts from the prompt given, not the cancelled text");
    }

    [Test]
    public void OutsideAnEditTypingAndKeysAreIgnored()
    {
        var editor = new PromptEditor();
        editor.Type(new Rune('x'));
        Assert.That(editor.Press(PromptKey.Submit), Is.Null);
        Assert.That((editor.IsEditing, editor.Text), Is.EqualTo((false, "")));
    }
}
