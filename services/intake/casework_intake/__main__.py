import sys

from casework_common.launch import main

sys.exit(
    main(
        "intake",
        sys.argv,
        api="casework_intake.entrypoints.api:register",
        events="casework_intake.entrypoints.events:IntakeEvents",
    )
)
