import sys

from casework_common.launch import main

sys.exit(
    main(
        "documents",
        sys.argv,
        api="casework_documents.entrypoints.api:register",
        access="casework_documents.entrypoints.access:ACCESS",
        events="casework_documents.entrypoints.events:DocumentsEvents",
    )
)
