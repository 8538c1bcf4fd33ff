import sys

from casework_common.launch import main

sys.exit(
    main(
        "documents",
        sys.argv,
        api="casework_documents.entrypoints.api:register",
        events="casework_documents.entrypoints.events:DocumentsEvents",
    )
)
