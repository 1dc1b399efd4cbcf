"""course_utils: the library behind the course "Image Segmentation with Fully
Convolutional Networks".

One module per concept:

- ``shapes``: output-size arithmetic of convolution, pooling and transposed convolution.
- ``metrics``: Dice, IoU, pixel accuracy and foreground pixel accuracy (NumPy).
- ``losses``: pixel-wise cross-entropy and soft Dice loss (Keras, ``keras.ops``).
- ``keras_metrics``: IoU, Dice and FgPA as stateful Keras metrics for ``compile``.
- ``layers``: max pooling with argmax, max-unpooling, nearest and bilinear up-scaling.
- ``transposed_conv``: NumPy transposed convolution (scatter-add and matrix views).
- ``data``: synthetic binary document pages with label masks.
- ``models``: every network of the lecture: patch CNN, FCN up-scaling, skip FCNs, U-Net,
  DeconvNet, the autoencoder, and the convolutionalized patch classifier.
- ``sliding_window``: patch extraction and dense sliding-window prediction.
- ``viz``: label masks overlaid on images.
- ``timing``: wall-clock timing of predictions.
- ``training``: training on a wall-clock budget.
- ``pipeline``: a backend-neutral data pipeline (Keras ``PyDataset``) with augmentation.
- ``toy_shapes``: synthetic shapes with instance masks (instance segmentation).
- ``instance``: mask IoU, matching predicted to true instances, COCO-style mask AP.
- ``maskrcnn``: a compact Mask R-CNN (anchors, RPN, RoIAlign, box and mask heads) that
  trains on the shapes on a CPU.
- ``panoptic``: things merged over stuff into a panoptic map, panoptic quality (PQ).
- ``widgets``: interactive explorers (ipywidgets) that also draw static figures (a package,
  one module per explorer).
- ``lecture_figures``: static figures for lecture slides without data of their own
  (sliding windows on a street photo, padding modes, a transposed convolution's spread,
  the U-Net diagram); each ``draw_*`` returns the numbers it drew.
- ``selfcheck``: student self-checks with progressive hints, and ``show_progress()``.
- ``library_answers``: which library functions compute each assignment's graded answers
  (they are not available while that assignment is graded; the self-checks flag them).
- ``settings``: the library's settings and the environment variables that set them
  (``COURSE_FAST``, ``SEGCOURSE_PROGRESS_FILE``, ``SEGCOURSE_WIDGETS``, ...).
- ``transfer``: a pretrained encoder (shipped weights, ``pretrain`` makes them) and
  keras.applications backbones from local files, as FCN encoders; freezing, fine-tuning.

Import the submodules you need, e.g. ``from course_utils import metrics``; importing
the package itself does not import Keras.
"""

__version__ = "0.1.0"
