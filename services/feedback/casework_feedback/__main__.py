import sys

from casework_common.launch import main

sys.exit(
    main(
        "feedback",
        sys.argv,
        api="casework_feedback.entrypoints.api:register",
        access="casework_feedback.entrypoints.access:ACCESS",
        events="casework_feedback.entrypoints.events:FeedbackEvents",
    )
)
