"""The shipped transfer task's sizes: what students, the harness and the data generator share.

Plain numbers, no torch and no data: the generator of the graded images lives with the
references (``grader.reference.transfer_data``), hidden from student code; these numbers
are public (the starter kit prints them).
"""

SIZE = 32  # images are (3, SIZE, SIZE)
SOURCE_CLASSES = 10  # the pretraining task's shape classes
TARGET_CLASSES = 4  # the students' task's shape classes
# The training budget every pipeline gets on the target task (``budget.train``): epochs of batches.
EPOCHS = 5
BATCH_SIZE = 32
#: Sizes of the target task's splits; the test labels stay with the grader.
TARGET_TRAIN, TARGET_TEST = 300, 200
