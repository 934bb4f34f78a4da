"""markitdown adapter: text = MarkItDown().convert(path).text_content (markdown); no structured units."""
from harness import main
MD = None

def setup():
    global MD
    from markitdown import MarkItDown
    MD = MarkItDown(enable_plugins=False)

def convert(path):
    r = MD.convert(path)
    return r.text_content, []

if __name__ == "__main__":
    main("markitdown", convert, setup)
