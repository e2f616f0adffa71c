"""Report stage: report states + stored rows -> the consolidated workbook."""
