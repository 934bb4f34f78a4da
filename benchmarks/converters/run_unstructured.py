"""unstructured adapter: partition(filename=...) -> elements; units carry category + metadata."""
import os
from harness import main
DROP = {"file_directory", "filename", "last_modified", "languages", "filetype", "coordinates"}

NAME = "unstructured"
if os.environ.get("SPACY_MODEL_DIR"):
    # stand-in for the en_core_web_sm wheel unstructured downloads from GitHub at run time:
    # load the same model (3.8.0 data files) from a local directory instead
    NAME = "unstructured-localmodel"

def setup():
    global partition
    if os.environ.get("SPACY_MODEL_DIR"):
        import spacy, unstructured.nlp.tokenize as tk
        tk._load_spacy_model = lambda: spacy.load(os.environ["SPACY_MODEL_DIR"], exclude=tk._SPACY_EXCLUDE)
    from unstructured.partition.auto import partition

def convert(path):
    els = partition(filename=path)
    units = []
    for el in els:
        md = {k: v for k, v in el.metadata.to_dict().items() if k not in DROP}
        md.pop("text_as_html", None) if len(str(md.get("text_as_html", ""))) > 300 else None
        units.append({"text": el.text, "category": el.category, "id": el.id, **md})
    return "\n\n".join(el.text for el in els), units

if __name__ == "__main__":
    main(NAME, convert, setup)
