"""Finding passages: embedder, vector store, keyword index, fusion, reranking."""
